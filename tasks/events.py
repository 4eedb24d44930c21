"""The events paydag's flows emit, and that deployments/prefect.yaml triggers on. The names and labels
live here only; tests/deployments checks the triggers against them.

Events are at-least-once: a file stored by a poll that died before its event is emitted again by the
next poll (the document is still unacknowledged), and what they trigger is idempotent (an ingest of
an AccountingNo curated before is a no-op; a reconciliation can be run again).
"""

from __future__ import annotations

from prefect.events import emit_event

from paydag.poll import DocumentOutcome

FILE_STORED = "paydag.file.stored"
SETTLEMENT_CURATED = "paydag.settlement.curated"
KIND_LABEL = "paydag.kind"  # settlement, pain.002.001.10, camt.054.001.08 (credit), unknown
COMPANY_LABEL = "paydag.company"


def file_stored(company: str, outcome: DocumentOutcome) -> None:
    """A return file is in the raw store and the register (the poll stored it now or earlier)."""
    if outcome.raw_key is None:
        return
    emit_event(
        event=FILE_STORED,
        resource={
            "prefect.resource.id": f"paydag.raw.{outcome.raw_key}",
            "prefect.resource.name": outcome.name,
            KIND_LABEL: outcome.kind,
            COMPANY_LABEL: company,
        },
        payload={
            "kind": outcome.kind,
            "company": company,
            "raw_key": outcome.raw_key,
            "name": outcome.name,
            "state": outcome.state,
        },
    )


def settlement_curated(company: str, accounting_no: str, rows: int, raw_key: str) -> None:
    """A settlement report passed its expectations and is a curated table."""
    emit_event(
        event=SETTLEMENT_CURATED,
        resource={
            "prefect.resource.id": f"paydag.settlement.{accounting_no}",
            "prefect.resource.name": accounting_no,
            COMPANY_LABEL: company,
        },
        payload={"accounting_no": accounting_no, "company": company, "rows": rows, "raw_key": raw_key},
    )

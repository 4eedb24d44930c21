"""reconcile-settlement: curated settlement reports against captured transactions, exceptions carried forward."""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.runtime import flow_run

from tasks.reconcile import (
    carry_exceptions_forward,
    publish,
    read_captures_export,
    read_curated_settlement,
    reconcile_rows,
    write_report,
)
from tasks.resources import settings


def _run_name() -> str:
    return f"reconcile {', '.join(flow_run.parameters.get('accounting_nos') or ['all reports'])}"


@flow(name="reconcile-settlement", flow_run_name=_run_name)
def reconcile_settlement(
    captures: str | None = None, accounting_nos: list[str] | None = None, as_of: date | None = None
) -> dict[str, object]:
    """Match settled rows with the captures export: matched, amount mismatch, missing in settlement (with
    age), unexpected in settlement, duplicate, reversal linked; open exceptions stay until resolved.

    Args:
        captures: the captures export (payments API shape), CSV or Parquet, a local path or an s3:// URI;
            PAYDAG_CAPTURES_EXPORT when empty
        accounting_nos: the curated reports to reconcile (AccountingNo); every curated report when empty
        as_of: the day ages are counted to; today when empty
    """
    day = as_of or settings().today()
    exported = read_captures_export(captures)
    settlement = read_curated_settlement(accounting_nos)
    report = reconcile_rows(settlement, exported, day)
    out = write_report(report, day)
    exceptions = carry_exceptions_forward(report, settlement, exported, day)
    counts = publish(report, settlement, exceptions, captures, day)
    update, _open = exceptions  # the open ones went to the artifact
    return {
        "reports": settlement.names,
        "as_of": day.isoformat(),
        "counts": counts,
        "out": out,
        "exceptions": {"opened": update.opened, "still_open": update.still_open, "resolved": update.resolved},
    }

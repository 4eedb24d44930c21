"""What the demo day did, read back from the register, the curated bills and the reconciliation report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paydag.cli.demo.day import DemoDay
from paydag.settings import Settings


def summary(settings: Settings, day: DemoDay, report: Path | None) -> dict[str, Any]:
    """What the day did, read back from the register, the curated bills and the reconciliation report."""
    import pandas as pd

    from paydag.reconcile import incoming_frame, reconcile_incoming, state_counts
    from paydag.resources import open_register
    from paydag.sync import bills_for_reconciliation

    register = open_register(settings)
    try:
        payments = [
            p for p in register.payments(company_id="demo") if p.payment_id.startswith(day.payment_prefix)
        ]
        incoming = incoming_frame(register.incoming_payments("demo"))
        settlement = register.settlement(day.accounting_no)
        approvals = [e.describe() for e in register.approvals(payments[0].msg_id)] if payments else []
    finally:
        register.close()
    states: dict[str, int] = {}
    for p in payments:
        states[p.state.value] = states.get(p.state.value, 0) + 1
    matched = {}
    if len(incoming) and (settings.curated_dir / "credit_accounts" / "bills.parquet").exists():
        matched = dict(
            reconcile_incoming(incoming, bills_for_reconciliation(settings.curated_dir))[
                "state"
            ].value_counts()
        )
    reconciliation = state_counts(pd.read_parquet(report)) if report is not None and report.exists() else {}
    return {
        "payments": {"batch": payments[0].msg_id if payments else None, "count": len(payments), "states": dict(sorted(states.items())),
                     "rejected": [{"payment_id": p.payment_id, "reason": p.reason_code, "text": p.reason_text}
                                  for p in payments if p.state.value in ("REJECTED", "RETURNED")],
                     "approvals": approvals},
        "incoming_payments": {"count": len(incoming), "states": {str(k): int(v) for k, v in sorted(matched.items())}},
        "settlement": None if settlement is None else {
            "accounting_no": settlement.accounting_no, "state": settlement.state, "rows_validated": settlement.row_count},
        "reconciliation": {str(k): int(v) for k, v in reconciliation.items()},
    }  # fmt: skip


def report_path(settings: Settings) -> Path:
    return settings.home / "reports" / f"reconciliation-{settings.today().isoformat()}.parquet"


def iter_lines(doc: dict[str, Any]) -> Iterator[str]:
    """The summary as a person reads it."""
    p = doc["payments"]
    yield f"payments of batch {p['batch']}: " + ", ".join(f"{n} {s}" for s, n in p["states"].items())
    for r in p["rejected"]:
        yield f"  {r['payment_id']} {r['reason']}: {r['text']}"
    for a in p["approvals"]:
        yield f"  approval: {a}"
    i = doc["incoming_payments"]
    yield (
        f"incoming payments routed to the rent ledger: {i['count']} ("
        + (", ".join(f"{n} {s}" for s, n in i["states"].items()) or "no bills synced")
        + " against PayEx bills)"
    )
    s = doc["settlement"]
    yield ("settlement: none ingested" if s is None
           else f"settlement report {s['accounting_no']}: {s['state']}, {s['rows_validated']} rows validated")  # fmt: skip
    yield "reconciliation: " + (
        ", ".join(f"{n} {st}" for st, n in doc["reconciliation"].items()) or "no report"
    )

"""Tasks of the settlement reconciliation: one vectorised reconciliation over whole tables, then the
exceptions carried forward and the report published."""

from __future__ import annotations

import tempfile
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from paydag import reconcile
from paydag.storage import fetch_input
from tasks import resources


@task(name="reconcile-settlement-rows", cache_policy=NO_CACHE)
def reconcile_reports(
    accounting_nos: list[str] | None, captures: str | None, as_of: date | None
) -> dict[str, object]:
    """Curated reports (these, or all) against a captures export; the report written, exceptions updated."""
    s = resources.settings()
    captures = captures or s.captures_export
    if not captures:
        raise ValueError("no captures export: pass `captures` or set PAYDAG_CAPTURES_EXPORT")
    settlement, earlier, names = reconcile.curated_settlement(s.curated_dir, accounting_nos)
    s.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=s.home) as workdir:
        exported = reconcile.read_captures(fetch_input(captures, Path(workdir)))
    day = as_of or s.today()
    report = reconcile.reconcile_settlement(settlement, exported, as_of=day, earlier_settlement=earlier)
    paths = reconcile.write_report(report, s.home / "reports", day)
    items, matched = reconcile.settlement_exceptions(report)
    label = ", ".join(names)
    with closing(resources.register()) as register:
        update = register.update_exceptions(
            "settlement",
            open_items=items,
            matched_keys=matched,
            resolution=f"matched in {label}",
            now=datetime.now(UTC),
        )
        open_exceptions = register.exceptions("settlement")
    counts = reconcile.state_counts(report)
    get_run_logger().info("reconciled %s: %s", label, counts)
    create_table_artifact(
        key="reconciliation-states",
        table=[{"state": k, "rows": v} for k, v in counts.items()] + [{"state": f"report level: {r['accounting_no']}", "rows": r["rows"], **r} for r in reconcile.report_level(settlement)],
        description=f"Settlement {label} against {captures} as of {day}: rows per state; "
        f"{update.opened} exception(s) opened, {update.resolved} resolved",
    )  # fmt: skip
    create_table_artifact(
        key="reconciliation-open-exceptions",
        table=[
            {"transaction_no": e.item_key, "state": e.state, "first seen": e.first_seen.isoformat(timespec="minutes"), **e.detail}
            for e in open_exceptions[:500]
        ],
        description=f"{len(open_exceptions)} open reconciliation exception(s): work through them; the next run updates them",
    )  # fmt: skip
    return {
        "reports": names,
        "as_of": day.isoformat(),
        "counts": counts,
        "out": [str(p) for p in paths],
        "exceptions": {"opened": update.opened, "still_open": update.still_open, "resolved": update.resolved},
    }

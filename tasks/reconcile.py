"""Tasks of the settlement reconciliation, one per step: read the curated reports and the captures
export, reconcile them (one vectorised pass over whole tables), write the report, carry the exceptions
forward in the register, publish. Retries sit on the reads and the register only."""

from __future__ import annotations

import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from paydag import reconcile
from paydag.register import ExceptionsUpdate, ReconException
from paydag.storage import fetch_input, keep_input
from tasks import resources
from tasks.retry import io_task


@dataclass(frozen=True)
class CuratedSettlement:
    rows: pd.DataFrame  # the reports to reconcile
    earlier: pd.DataFrame  # every other curated report, for reversals of earlier captures
    names: list[str]

    @property
    def label(self) -> str:
        return ", ".join(self.names)


@task(name="read-curated-settlement", cache_policy=NO_CACHE)
def read_curated_settlement(accounting_nos: list[str] | None) -> CuratedSettlement:
    return CuratedSettlement(*reconcile.curated_settlement(resources.settings().curated_dir, accounting_nos))


@dataclass(frozen=True)
class CapturesExport:
    rows: pd.DataFrame
    kept_key: str  # where the raw store keeps it as it was read


@io_task("read-captures-export")
def read_captures_export(captures: str | None) -> CapturesExport:
    """The captures export, read and kept in the raw store as it was read."""
    s = resources.settings()
    captures = captures or s.captures_export
    if not captures:
        raise ValueError("no captures export: pass `captures` or set PAYDAG_CAPTURES_EXPORT")
    s.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=s.home) as workdir:
        path = fetch_input(captures, Path(workdir))
        exported = reconcile.read_captures(path)
        kept = keep_input(resources.raw_store(), "captures", path, reader=reconcile.CAPTURES_READER)
        return CapturesExport(exported, kept.key)


@task(name="reconcile-settlement-rows", cache_policy=NO_CACHE)
def reconcile_rows(settlement: CuratedSettlement, exported: CapturesExport, day: date) -> pd.DataFrame:
    """Every settled row and every capture in one state: matched, amount mismatch, missing, unexpected, …"""
    report = reconcile.reconcile_settlement(
        settlement.rows, exported.rows, as_of=day, earlier_settlement=settlement.earlier
    )
    get_run_logger().info("reconciled %s: %s", settlement.label, reconcile.state_counts(report))
    return report


@task(name="write-reconciliation-report", cache_policy=NO_CACHE)
def write_report(report: pd.DataFrame, day: date) -> list[str]:
    return [str(p) for p in reconcile.write_report(report, resources.settings().home / "reports", day)]


@io_task("carry-exceptions-forward")
def carry_exceptions_forward(
    report: pd.DataFrame, settlement: CuratedSettlement, exported: CapturesExport, day: date
) -> tuple[ExceptionsUpdate, list[ReconException]]:
    """Open, keep or resolve the register's exceptions (idempotent: run again, the same outcome), then
    keep the run's record for a replay."""
    with closing(resources.register()) as register:
        update = reconcile.carry_exceptions_forward_recorded(
            register, resources.raw_store(), report, label=settlement.label, now=datetime.now(UTC),
            captures_key=exported.kept_key, as_of=day, reports=settlement.names,
        )  # fmt: skip
        return update, register.exceptions("settlement")


@task(name="publish-reconciliation", cache_policy=NO_CACHE)
def publish(
    report: pd.DataFrame,
    settlement: CuratedSettlement,
    exceptions: tuple[ExceptionsUpdate, list[ReconException]],
    captures: str | None,
    day: date,
) -> dict[str, int]:
    update, open_exceptions = exceptions
    counts = reconcile.state_counts(report)
    create_table_artifact(
        key="reconciliation-states",
        table=[{"state": k, "rows": v} for k, v in counts.items()] + [{"state": f"report level: {r['accounting_no']}", "rows": r["rows"], **r} for r in reconcile.report_level(settlement.rows)],
        description=f"Settlement {settlement.label} against {captures or resources.settings().captures_export} as of {day}: "
        f"rows per state; {update.opened} exception(s) opened, {update.resolved} resolved",
    )  # fmt: skip
    create_table_artifact(
        key="reconciliation-open-exceptions",
        table=[
            {"transaction_no": e.item_key, "state": e.state, "first seen": e.first_seen.isoformat(timespec="minutes"), **e.detail}
            for e in open_exceptions[:500]
        ],
        description=f"{len(open_exceptions)} open reconciliation exception(s): work through them; the next run updates them",
    )  # fmt: skip
    return counts

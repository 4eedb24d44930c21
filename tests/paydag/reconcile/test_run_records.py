"""Each live reconciliation keeps the record of its run in the raw store once its exceptions are
committed, with what a replay needs to repeat it there."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from paydag.reconcile import (
    carry_exceptions_forward_recorded,
    reconcile_incoming_recorded,
    reconcile_settlement,
)
from paydag.register import Register
from paydag.storage import LocalRawStore
from paydag.storage.journal import ReconciliationRun, read_run
from tests.paydag.register.test_exceptions import settled_and_captured

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_the_settlement_and_incoming_runs_are_recorded_with_their_inputs(
    database_url: str, tmp_path: Path
) -> None:
    rows, captures = settled_and_captured()
    bills = pd.DataFrame({"bill_no": ["B1"], "payment_reference": ["4711000003"], "amount_minor": [845000]})
    store = LocalRawStore(tmp_path / "raw")
    register = Register(database_url)
    try:
        reconciled = reconcile_settlement(rows.iloc[1:], captures, as_of=date(2022, 12, 2))
        update = carry_exceptions_forward_recorded(
            register, store, reconciled, label="R1234-0001", now=NOW, captures_key="in/captures/x.csv",
            as_of=date(2022, 12, 2), reports=["R1234-0001"],
        )  # fmt: skip
        assert update.opened == 1  # the capture whose row is left out
        reconcile_incoming_recorded(
            register,
            store,
            bills,
            company_id="demo",
            bills_source="bills.csv",
            now=NOW,
            bills_key="in/demo/b.csv",
        )
    finally:
        register.close()
    runs = {
        run.reconciliation: run
        for run in (read_run(store, store.head(key)) for key in store.list() if key.endswith(".run.json"))
    }
    assert runs == {
        "reconcile-settlement": ReconciliationRun(
            "reconcile-settlement",
            ("in/captures/x.csv",),
            NOW,
            "R1234-0001",
            as_of=date(2022, 12, 2),
            reports=("R1234-0001",),
        ),
        "reconcile-incoming": ReconciliationRun("reconcile-incoming", ("in/demo/b.csv",), NOW, "bills.csv"),
    }

"""replay-day under Prefect: a day sent and polled against the sandbox, replayed from the raw store into
a fresh register, holds what the live register holds, field by field; replayed onto the live register
it changes nothing; a register that no longer agrees with its raw files is caught, naming the row. On
the local store with SQLite, and on S3 (moto's server) with PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from flows.ingest_settlement import ingest_settlement_report
from flows.poll_returns import poll_return_files
from flows.reconcile_settlement import reconcile_settlement
from flows.replay_day import replay_day
from paydag import resources
from paydag.formats.settlement import parse_settlement
from paydag.register import Register
from paydag.register.snapshot import differences
from paydag.replay import day_objects
from paydag.replay.day import start_of
from paydag.settings import load_settings
from tests.conftest import SETTLEMENT_V2
from tests.flows import test_poll_returns
from tests.flows.test_poll_returns import advance, place_statement

cycle = test_poll_returns.cycle  # the fixture: a batch of 8 sent to the sandbox bank


@pytest.fixture(params=["local-sqlite", "s3-postgresql"])
def stores(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the day is kept: set before `cycle` sends its batch."""
    if request.param == "s3-postgresql":
        monkeypatch.setenv("PAYDAG_RAW_STORE", f"s3://{request.getfixturevalue('s3_bucket')}/raw")
        monkeypatch.setenv("PAYDAG_DATABASE_URL", request.getfixturevalue("postgres_url"))
    return request.param


def _day() -> dict:
    """The day's return files polled: the status report, then (ten bank days on) bookings and rent."""
    settings = load_settings()
    today = datetime.now(UTC).date()
    store = resources.open_store(settings)
    keys = [o.key for o in day_objects(store, today)]
    return {"today": today, "keys": keys, "settings": settings}


def _snapshot(url: str, keys: list[str], today) -> dict:
    register = Register(url)
    try:
        return register.snapshot(keys, exceptions_since=start_of(today))
    finally:
        register.close()


def test_a_replayed_day_holds_what_the_register_holds_and_changes_nothing_in_it(
    stores: str, cycle: dict, tmp_path: Path
) -> None:
    poll_return_files(company="demo")
    advance(cycle["url"], 10)
    poll_return_files(company="demo")
    place_statement(cycle["url"])  # and the bank's statement, reconciled as the poll receives it
    poll_return_files(company="demo")
    day = _day()

    checked = replay_day(day=day["today"], verify=True)
    assert checked["into"] == "scratch" and checked["differences"] == 0
    assert checked["counts"]["batch built"] == 1 and checked["counts"]["batch sent"] == 1
    assert checked["counts"]["return file"] >= 4  # the pain.002, the debit notifications, the rent
    assert checked["counts"]["statement reconciliation"] == 1  # after the poll's files, as the poll ran it

    fresh = replay_day(day=day["today"])
    live_url = day["settings"].effective_database_url
    live, replayed = (
        _snapshot(live_url, day["keys"], day["today"]),
        _snapshot(fresh["into"], day["keys"], day["today"]),
    )
    assert differences(live, replayed) == []
    states = {key[1]: row["state"] for key, row in replayed["payments"].items()}
    assert states["INV-0000002"] == "REJECTED" and sum(s == "BOOKED" for s in states.values()) == 7
    assert (
        len(replayed["incoming_payments"]) == 3
    )  # the two rent payments, and the statement's unknown credit
    assert [k[2] for k in replayed["statements"]] == ["STMT-1"]
    assert {k[:2] for k in replayed["recon_exceptions"]} == {("statement", "S-UNKNOWN-1")}
    [batch] = replayed["batches"].values()
    assert batch["state"] == "SENT" and batch["nb_of_txs"] == 8

    # Replayed onto the live register that holds the day: nothing changes, nothing is written to the store.
    before = _snapshot(live_url, day["keys"], day["today"])
    again = replay_day(day=day["today"], into=live_url)
    assert again["differences"] == 0
    assert _snapshot(live_url, day["keys"], day["today"]) == before
    assert [o.key for o in day_objects(resources.open_store(day["settings"]), day["today"])] == day["keys"]

    # A register that no longer agrees with its files: someone "fixed" a payment by hand. It is named.
    live = Register(live_url)
    try:
        with live.engine.begin() as conn:
            conn.execute(text("UPDATE payments SET state = 'BOOKED' WHERE payment_id = 'INV-0000002'"))
    finally:
        live.close()
    assert replay_day(day=day["today"], verify=True)["differences"] == 1
    from paydag.replay import replay

    [found] = replay(load_settings(), day["today"], verify=True).differences
    assert (found.table, found.key, found.field) == ("payments", ("demo", "INV-0000002"), "state")
    assert (found.live, found.replayed) == ("BOOKED", "REJECTED")


def test_a_captures_export_reconciled_twice_is_replayed_at_each_run(tmp_path: Path) -> None:
    """The same export, kept once, reconciled on two days: the replay counts ages to each run's day, so
    the late capture's exception is as old in the replayed register as in the live one."""
    ingest_settlement_report(source=str(SETTLEMENT_V2))
    rows = parse_settlement(SETTLEMENT_V2.read_bytes()).rows
    export = pd.DataFrame(
        {"number": [*rows["transaction_no"], "77700001"], "payeeReference": [*rows["order_id"], "late-1"],
         "type": ["Reversal" if a < 0 else "Capture" for a in rows["amount_minor"]] + ["Capture"],
         "amount": [*rows["amount_minor"].abs(), 12500], "created": "2026-11-24T12:00:00Z"}
    )  # fmt: skip
    captures = tmp_path / "captures.csv"
    export.to_csv(captures, index=False)
    reconcile_settlement(captures=str(captures), as_of="2026-11-25")
    reconcile_settlement(captures=str(captures), as_of="2026-11-28")  # three days on, the same export

    day = _day()
    fresh = replay_day(day=day["today"])
    assert fresh["counts"]["captures export"] == 1 and fresh["counts"]["settlement reconciliation"] == 2
    live, replayed = (
        _snapshot(u, day["keys"], day["today"])
        for u in (day["settings"].effective_database_url, fresh["into"])
    )
    assert differences(live, replayed) == []
    [late] = [e for k, e in replayed["recon_exceptions"].items() if k == ("settlement", "77700001")]
    assert (late["state"], late["detail"]["age_days"]) == ("missing in settlement", 4)

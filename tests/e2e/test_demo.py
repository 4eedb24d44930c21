"""`paydag demo` as a newcomer runs it: a Prefect server, the sandbox and a worker started, the
deployments deployed, the day's cycle run through them (the ingest and the reconciliation started by
events), a summary printed, everything stopped again; a second run the same day sends nothing twice;
a taken port is an error, not a hang."""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paydag.cli.demo.stack import free_port
from paydag.register import Register
from paydag.register.snapshot import differences
from paydag.samples import ocr_reference
from tests.paydag.cli.test_commands import paydag

# A whole demo (five flow runs, each a process of its own) took 90-120 s on a quiet machine and over
# 300 s on a loaded CI machine; the demo's own --timeout (300 s) still bounds every single step.
DEMO_TIMEOUT = 900


def port_is_free(port: int) -> bool:
    """Nothing listens on it (connections in TIME_WAIT may remain)."""
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def ports() -> list[str]:
    return ["--prefect-port", str(free_port()), "--sandbox-port", str(free_port())]


def test_the_daily_cycle_runs_through_the_deployments(tmp_path: Path, ports: list[str]) -> None:
    started_on = datetime.now(UTC).date()
    first = paydag("demo", "--json", *ports, cwd=tmp_path, timeout=DEMO_TIMEOUT)
    assert first.returncode == 0, first.stderr[-3000:]
    day = json.loads(first.stdout)
    assert day["payments"]["count"] == 12
    assert day["payments"]["states"] == {"BOOKED": 10, "REJECTED": 2}  # the blocked plusgiro, twice in 12
    assert {r["reason"] for r in day["payments"]["rejected"]} == {"AC01"}
    asked, approved = day["payments"]["approvals"]  # the demo company's batches wait for approval
    assert "asked for by Anna Inköp" in asked
    assert "approved by Britt Ekonomi: the day's supplier invoices, checked" in approved
    assert day["incoming_payments"] == {"count": 3, "states": {"matched": 3}}
    assert day["settlement"]["state"] == "CURATED" and day["settlement"]["rows_validated"] == 9
    assert day["reconciliation"] == {"matched": 8, "missing in settlement": 1, "reversal linked": 1}
    runs = {r["name"].split()[0]: r["state"] for r in day["runs"]["all"]}
    assert runs == dict.fromkeys(["send", "sync", "poll", "ingest", "reconcile"], "Completed")
    assert day["ui"].startswith("http://127.0.0.1:")
    assert all(port_is_free(int(p)) for p in ports[1::2])  # everything it started is stopped

    again = paydag("demo", "--json", *ports, cwd=tmp_path, timeout=DEMO_TIMEOUT)
    assert again.returncode == 0, again.stderr[-3000:]
    repeat = json.loads(again.stdout)
    assert repeat["payments"] == day["payments"]  # the same batch: not sent again
    assert repeat["settlement"] == day["settlement"]
    sandbox = json.loads((tmp_path / ".paydag" / "sandbox" / "state.json").read_text())
    assert [f["senderReference"] for f in sandbox["files"]] == [day["payments"]["batch"]]

    # Operations reconcile the day's incoming rent against a bills file of their own by hand.
    ocrs = [ocr_reference(4711000 + n) for n in range(3)]  # the demo's paid invoices: 8450, 8575, 8700 SEK
    bills = tmp_path / "bills.csv"
    bills.write_text(
        f"bill_no,payment_reference,amount\nB1,{ocrs[0]},8450.00\nB2,{ocrs[1]},9000.00\nB3,{ocrs[2]},8000.00\n"
    )
    result = paydag("reconcile-incoming", "--bills", str(bills), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"] == {"matched": 1, "overpaid": 1, "partial": 1}
    assert report["exceptions"] == {"opened": 2, "still_open": 0, "resolved": 0}
    # The partial payment's bill turns out to be 8575.00: the next run resolves it.
    bills.write_text(bills.read_text().replace("9000.00", "8575.00"))
    later = json.loads(paydag("reconcile-incoming", "--bills", str(bills), "--json", cwd=tmp_path).stdout)
    assert later["exceptions"] == {"opened": 0, "still_open": 1, "resolved": 1}

    # The day replayed from the raw store into a fresh register holds what the live register holds (the
    # raw store's days are UTC days: a run across midnight is two days, replayed in turn into one register).
    today = datetime.now(UTC).date()
    into = f"sqlite:///{tmp_path / 'replayed.sqlite3'}"
    steps, counts = [], Counter()
    for day in sorted({started_on, today}):
        result = paydag("replay", "--date", day.isoformat(), "--into", into, "--json", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        replayed = json.loads(result.stdout)
        assert replayed["status"] == "ok" and replayed["differences"] == [], replayed["differences"]
        steps += replayed["steps"]
        counts.update(replayed["counts"])
    assert counts["batch built"] == 1 and counts["batch decided"] == 1 and counts["batch sent"] == 1
    assert counts["return file → settlement report"] >= 1 and counts["captures export"] == 1
    assert counts["settlement reconciliation"] >= 1  # once per demo run that ingested a report
    assert counts["bills"] == 2 and counts["incoming reconciliation"] == 2  # by hand, above
    assert not [s for s in steps if s["outcome"] == "failed"], steps
    keys = [s["key"] for s in steps]
    live_url = f"sqlite:///{tmp_path / '.paydag' / 'register.sqlite3'}"
    live, fresh = (Register(u) for u in (live_url, into))
    try:
        since = datetime(started_on.year, started_on.month, started_on.day, tzinfo=UTC)
        mine, theirs = live.snapshot(keys, since), fresh.snapshot(keys, since)
    finally:
        live.close(), fresh.close()
    found = differences(mine, theirs)
    assert found == [], [d.describe() for d in found]  # field by field, ids and write times aside
    assert len(theirs["payments"]) == 12 and len(theirs["incoming_payments"]) == 3
    assert {k[0] for k in theirs["recon_exceptions"]} == {"settlement", "incoming"}
    assert sum(e["resolved"] for e in theirs["recon_exceptions"].values()) == 1  # the partial one, resolved
    assert paydag("replay", "--date", today.isoformat(), "--verify", cwd=tmp_path).returncode == 0


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    sandbox_port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        started = time.monotonic()
        result = paydag(
            "demo", "--prefect-port", str(taken), "--sandbox-port", str(sandbox_port), cwd=tmp_path
        )
    assert result.returncode == 2
    assert (
        f"127.0.0.1:{taken} is in use" in result.stderr
        and "choose another with --prefect-port" in result.stderr
    )
    assert time.monotonic() - started < 60
    assert port_is_free(sandbox_port)  # the sandbox it had started is stopped again

"""The fault matrix, under Prefect against the sandbox, the register on PostgreSQL and the raw store on
S3 (a moto server of the test's own, stopped and started again): S3 gone during a poll and during a
send, the register's connection dropped in the middle of a transaction, the token endpoint refusing
and then recovering, the provider timing out on the acknowledgement. Each run that fails says what
failed; each day ends the same: every file stored once, every payment in its state, every document
acknowledged once, and nothing acknowledged that was not durable first.

(A worker killed with SIGKILL while it polls: tests/e2e/test_worker_killed.py.)"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

import tasks.poll
import tasks.send
from flows.poll_returns import poll_return_files
from flows.send_payments import send_payment_file
from paydag import resources
from paydag.cli.demo.stack import free_port
from paydag.register import Register
from paydag.register import returns as register_returns
from paydag.samples import sample_payables, write_payables_csv
from paydag.settings import load_settings
from paydag.storage.s3 import S3RawStore

BLOCKED = "123455"  # the sample plusgiro supplier: the sandbox bank refuses it (AC01)


class S3:
    """moto's S3 server on a port of its own; its buckets outlive a stop (moto keeps them in-process)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = None
        self.start()

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


class Day:
    def __init__(self, url: str, s3: S3, tmp_path: Path) -> None:
        self.url, self.s3, self.tmp_path = url, s3, tmp_path

    def send(self) -> dict:
        rows = sample_payables(6, company="demo", first_day=date.today() + timedelta(days=2))
        payables = write_payables_csv(rows, self.tmp_path / "payables.csv")
        return send_payment_file(payables=str(payables), company="demo", send_mode="Test")

    def advance(self, days: int = 10) -> None:
        httpx.post(f"{self.url}/_sandbox/advance", json={"seconds": days * 86400}).raise_for_status()

    def faults(self, *faults: dict) -> None:
        httpx.post(f"{self.url}/_sandbox/faults", json=list(faults)).raise_for_status()

    def provider(self) -> dict:
        return httpx.get(f"{self.url}/_sandbox/state").json()

    def register(self) -> Register:
        return resources.open_register(load_settings())

    def states(self) -> dict[str, str]:
        reg = self.register()
        try:
            return {p.payment_id: p.state.value for p in reg.payments()}
        finally:
            reg.close()

    def stored(self) -> list[str]:
        return list(resources.open_store(load_settings()).list("incoming/demo/"))

    def assert_whole(self, batches: int = 1) -> None:
        """The day as if nothing had gone wrong."""
        state = self.provider()
        assert len(state["files"]) == batches  # every payment file reached the provider once
        acknowledged = Counter(a["id"] for a in state["acknowledgements"])
        assert set(acknowledged) == {d["id"] for d in state["documents"]} and set(acknowledged.values()) == {
            1
        }
        assert len(self.stored()) == len(state["documents"])  # every return file stored once
        reg = self.register()
        try:
            payments = reg.payments()
            assert {p.payment_id: p.state.value for p in payments if p.account == BLOCKED} == {
                p.payment_id: "REJECTED" for p in payments if p.account == BLOCKED
            }
            assert {p.state.value for p in payments if p.account != BLOCKED} == {"BOOKED"}
            with reg.engine.connect() as conn:  # each payment reached each state once: nothing applied twice
                twice = conn.execute(text(
                    "select payment_id, to_state, count(*) from status_events where payment_id is not null "
                    "group by payment_id, to_state having count(*) > 1"
                )).all()  # fmt: skip
            assert twice == []
        finally:
            reg.close()


@pytest.fixture
def day(
    postgres_url: str, sandbox_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Day]:
    s3 = S3()
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3.port}", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-north-1",
        "AWS_MAX_ATTEMPTS": "2",  # botocore's own retries: a store that is gone fails in a second, not a minute
        "PAYDAG_DATABASE_URL": postgres_url, "PAYDAG_PAGERO_BASE_URL": sandbox_url,
        "PAYDAG_PAGERO_TIMEOUT_SECONDS": "1",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    import boto3

    bucket = f"paydag-raw-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-north-1"}
    )
    monkeypatch.setenv("PAYDAG_RAW_STORE", f"s3://{bucket}/raw")
    for t in (tasks.send.archive_file, tasks.send.register_built, tasks.send.deliver_file, tasks.send.follow_status,
              tasks.poll.list_documents, tasks.poll.receive_document, tasks.poll.acknowledge):  # fmt: skip
        monkeypatch.setattr(t, "retry_delay_seconds", [0] * 5)
    first_day = (date.today() + timedelta(days=2)).isoformat()
    httpx.post(f"{sandbox_url}/_sandbox/bank", json={"blocked_accounts": [BLOCKED], "invoices": [
        {"company_id": "demo-0001", "ocr": "1000000004", "amount": "8450.00", "payer_name": "Hyresgäst A",
         "paid_on": first_day},
    ]}).raise_for_status()  # fmt: skip
    try:
        yield Day(sandbox_url, s3, tmp_path)
    finally:
        s3.stop()


def stop_store_at_first(monkeypatch: pytest.MonkeyPatch, day: Day) -> None:
    """The S3 server goes away just as the run writes its first object (once: started again, it stays)."""
    real, calls = S3RawStore._write, {"n": 0}

    def write(self, obj, data):
        calls["n"] += 1
        if calls["n"] == 1:
            day.s3.stop()
        return real(self, obj, data)

    monkeypatch.setattr(S3RawStore, "_write", write)


def test_s3_gone_during_a_send_and_during_a_poll(day: Day, monkeypatch: pytest.MonkeyPatch) -> None:
    stop_store_at_first(monkeypatch, day)
    with pytest.raises(Exception, match="the S3 store is unreachable"):
        day.send()
    assert day.provider()["files"] == []  # nothing left for the provider before it was archived
    day.s3.start()
    assert day.send()["uploaded"] is True
    day.advance()
    stop_store_at_first(monkeypatch, day)
    with pytest.raises(RuntimeError) as failed:
        poll_return_files(company="demo")
    assert "the S3 store is unreachable" in str(failed.value) and "put s3://" in str(failed.value)
    assert day.provider()["acknowledgements"] == []  # nothing acknowledged that was not stored
    assert set(day.states().values()) == {"SENT"}  # nothing applied either
    day.s3.start()
    poll_return_files(company="demo")
    day.assert_whole()


def test_the_registers_connection_dropped_in_the_middle_of_a_transaction(
    day: Day, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL ends the poll's session (pg_terminate_backend) while it applies the bank's status
    report: the transaction is lost whole, the task runs again on a new connection, and the report is
    applied once."""
    day.send()
    real, calls = register_returns.apply_status_report, {"n": 0}
    admin = create_engine(postgres_url)

    def dropped(session, file, report):
        calls["n"] += 1
        if calls["n"] == 1:
            pid = session.execute(text("select pg_backend_pid()")).scalar()
            with admin.begin() as conn:
                conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
        return real(session, file, report)

    monkeypatch.setattr(register_returns, "apply_status_report", dropped)
    poll_return_files(company="demo")
    admin.dispose()
    assert calls["n"] == 2  # once on the dropped connection, once again
    assert {s for s in day.states().values()} == {"ACCEPTED", "REJECTED"}
    day.advance()
    poll_return_files(company="demo")
    day.assert_whole()


def test_the_token_endpoint_refusing_and_the_acknowledgement_timing_out(day: Day) -> None:
    day.send()
    day.advance(3)
    home = load_settings().home
    [tokens] = (home / "pagero").glob("*.json")
    tokens.write_text(
        json.dumps(json.loads(tokens.read_text()) | {"expires_at": 0})
    )  # the access token ran out
    # Refused once: the refresh token is refused, the password grant starts a new chain, the poll goes on.
    day.faults({"route": "token", "status": 401, "times": 1})
    assert poll_return_files(company="demo")["demo"]["acknowledged"] > 0
    # Refused for good (the API user locked): the poll fails naming the token endpoint, and does nothing.
    day.advance()
    tokens.write_text(json.dumps(json.loads(tokens.read_text()) | {"expires_at": 0}))
    day.faults({"route": "token", "status": 401, "times": 2})
    before = (day.provider()["acknowledgements"], day.states())
    with pytest.raises(Exception, match="401") as failed:
        poll_return_files(company="demo")
    assert "/token" in str(failed.value) or "oauth" in str(failed.value).lower()
    assert (day.provider()["acknowledgements"], day.states()) == before
    # The endpoint answers again; the acknowledgement now takes longer than the client waits: it is
    # asked again, and a document the provider marked fetched the first time is not acknowledged twice.
    day.faults({"route": "fetch", "latency": 2.0, "times": 1})
    assert poll_return_files(company="demo")["demo"]["acknowledged"] > 0
    assert day.provider()["faults"] == []
    day.assert_whole()  # the bank's clock is 13 days on: every booking came with this poll

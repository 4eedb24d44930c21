"""Approval before sending, under Prefect against the sandbox: a batch over the threshold waits in a
paused run; the approval given through the run's input resumes it and the file reaches the sandbox
once; a rejection and a timeout send nothing; the requester cannot approve their own batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run

import tasks.send
from flows.send_payments import send_payment_file
from paydag import resources
from paydag.register import BatchState, Decision
from paydag.samples import sample_payables, write_payables_csv
from paydag.send import BatchNotApproved
from paydag.settings import load_settings


@pytest.fixture
def payables(tmp_path: Path, sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PAYDAG_PAGERO_BASE_URL", sandbox_url)
    monkeypatch.setenv("PAYDAG_COMPANIES__DEMO__APPROVERS", '["anna", "bertil"]')
    monkeypatch.setenv("PAYDAG_COMPANIES__DEMO__APPROVAL_THRESHOLD", "0")  # every batch waits
    monkeypatch.setenv("PAYDAG_APPROVAL_POLL_SECONDS", "1")
    for t in (
        tasks.send.archive_file,
        tasks.send.register_built,
        tasks.send.deliver_file,
        tasks.send.follow_status,
    ):
        monkeypatch.setattr(t, "retry_delay_seconds", [0] * 5)
    rows = sample_payables(4, company="demo", first_day=date.today() + timedelta(days=3))
    return write_payables_csv(rows, tmp_path / "payables.csv")


class Running:
    """A send in a thread of its own, as a worker would run it, waiting for its decision."""

    def __init__(self, payables: Path, **parameters: Any) -> None:
        self.result: dict | None = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                self.result = send_payment_file(
                    payables=str(payables), company="demo", send_mode="Test", **parameters
                )
            except BaseException as exc:  # handed to the test
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def paused_run(self, times: int = 1) -> UUID:
        """The waiting run's id, once it has paused (for the `times`-th time) and saved its form."""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.thread.is_alive(), self.error
            run_id = _waiting_run()
            if run_id is not None:
                with get_client(sync_client=True) as client:
                    run = client.read_flow_run(run_id)
                pauses = int(run.state.state_details.pause_key.split("-")[-1]) if run.state.is_paused() else 0
                if pauses >= times:
                    time.sleep(0.5)  # the form's schema is saved right after the state
                    return run_id
            time.sleep(0.3)
        raise AssertionError("the send never paused for approval")

    def finish(self) -> None:
        self.thread.join(120)
        assert not self.thread.is_alive()


def _waiting_run() -> UUID | None:
    register = resources.open_register(load_settings())
    try:
        batches = register.batches()
        if not batches:
            return None
        ids = [e.flow_run_id for e in register.approvals(batches[0].msg_id) if e.flow_run_id]
        return UUID(ids[-1]) if ids else None
    finally:
        register.close()


def sandbox_files(url: str) -> list[dict]:
    return httpx.get(f"{url}/_sandbox/state").json()["files"]


def only_batch() -> tuple[Any, list]:
    register = resources.open_register(load_settings())
    try:
        [batch] = register.batches()
        return batch, register.approvals(batch.msg_id)
    finally:
        register.close()


def decide(run_id: UUID, approver: str, approve: bool, comment: str = "") -> None:
    resume_flow_run(run_id, run_input={"approver": approver, "approve": approve, "comment": comment})


def test_a_batch_waits_and_an_approval_through_the_run_input_sends_it_once(
    payables: Path, sandbox_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYDAG_DATABASE_URL", database_url)  # on SQLite and on PostgreSQL
    send = Running(payables, requested_by="anna")
    run_id = send.paused_run()
    batch, _ = only_batch()
    assert batch.state is BatchState.AWAITING_APPROVAL and sandbox_files(sandbox_url) == []
    decide(run_id, "bertil", True, "invoices checked")
    send.finish()
    assert send.error is None and send.result["uploaded"] is True
    assert [f["senderReference"] for f in sandbox_files(sandbox_url)] == [send.result["msg_id"]]
    batch, events = only_batch()
    assert batch.state is BatchState.SENT
    assert [(e.decision, e.by, e.comment) for e in events][-1] == (
        Decision.APPROVED,
        "bertil",
        "invoices checked",
    )
    again = send_payment_file(payables=str(payables), company="demo", send_mode="Test", requested_by="anna")
    assert again["uploaded"] is False and len(sandbox_files(sandbox_url)) == 1  # approved once, sent once


def test_the_requester_cannot_approve_their_own_batch(payables: Path, sandbox_url: str) -> None:
    send = Running(payables, requested_by="anna")
    decide(send.paused_run(), "anna", True)  # refused: the run asks again
    decide(send.paused_run(times=2), "mallory", True)  # refused: not an approver
    run_id = send.paused_run(times=3)
    assert only_batch()[0].state is BatchState.AWAITING_APPROVAL and sandbox_files(sandbox_url) == []
    decide(run_id, "bertil", True)
    send.finish()
    assert send.error is None and len(sandbox_files(sandbox_url)) == 1


@pytest.mark.parametrize(
    "answer",
    [
        lambda run_id: decide(run_id, "bertil", False, "wrong supplier"),
        None,  # nobody decides: the wait runs out
    ],
    ids=["rejected", "timed-out"],
)
def test_a_rejection_or_a_timeout_sends_nothing(
    payables: Path, sandbox_url: str, monkeypatch: pytest.MonkeyPatch, answer: Callable[[UUID], None] | None
) -> None:
    if answer is None:
        monkeypatch.setenv("PAYDAG_COMPANIES__DEMO__APPROVAL_TIMEOUT_HOURS", "0.001")  # 3.6 s
    send = Running(payables, requested_by="anna")
    run_id = send.paused_run()
    if answer is not None:
        answer(run_id)
    send.finish()
    assert sandbox_files(sandbox_url) == []
    batch, events = only_batch()
    assert batch.state is BatchState.CANCELLED
    if answer is not None:
        assert isinstance(send.error, BatchNotApproved)
        assert (events[-1].decision, events[-1].by, events[-1].comment) == (
            Decision.REJECTED,
            "bertil",
            "wrong supplier",
        )
    else:
        assert send.error is not None and events[-1].decision is Decision.TIMED_OUT
    with pytest.raises(BatchNotApproved):  # sending the same payables again does not send it either
        send_payment_file(payables=str(payables), company="demo", send_mode="Test", requested_by="anna")
    assert sandbox_files(sandbox_url) == []


def test_a_new_payee_account_makes_a_small_batch_wait_showing_the_approvers_why(
    payables: Path, sandbox_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.artifacts import Artifact

    monkeypatch.setenv("PAYDAG_COMPANIES__DEMO__APPROVAL_THRESHOLD", "1000000")  # far above the batch
    monkeypatch.setenv("PAYDAG_COMPANIES__DEMO__NEW_PAYEE_ACCOUNTS", "hold")
    send = Running(payables, requested_by="anna")
    run_id = send.paused_run()
    summary = Artifact.get("approval-summary-demo")
    assert (
        summary is not None and "held for approval: new payee account: the first payment to" in summary.data
    )
    assert "Asked for by **anna**" in summary.data
    decide(run_id, "bertil", True, "new supplier, contract checked")
    send.finish()
    assert send.error is None and len(sandbox_files(sandbox_url)) == 1

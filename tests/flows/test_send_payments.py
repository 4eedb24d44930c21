"""send-payment-file under Prefect against the sandbox over HTTP: stopped at every step boundary and
run again, it sends exactly one file, registers one batch and every payment."""

from __future__ import annotations

import csv
import hashlib
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

import tasks.send
from flows.send_payments import send_payment_file
from paydag import bankdays, resources, send
from paydag.register import BatchState, PaymentState, Register
from paydag.samples import sample_payables, write_payables_csv
from paydag.settings import load_settings
from tests.conftest import row, write_csv


class Crash(Exception):
    """The process dying at this point: nothing after it runs."""


@pytest.fixture
def payables(tmp_path: Path, sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PAYDAG_PAGERO_BASE_URL", sandbox_url)
    for t in (
        tasks.send.archive_file,
        tasks.send.register_built,
        tasks.send.deliver_file,
        tasks.send.follow_status,
    ):
        monkeypatch.setattr(t, "retry_delay_seconds", [0] * 5)
    rows = sample_payables(8, company="demo", first_day=date.today() + timedelta(days=3))
    return write_payables_csv(rows, tmp_path / "payables.csv")


def crash_once(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
    real = getattr(owner, name)
    calls = {"n": 0}

    def crashing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise Crash(f"killed at {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, crashing)


def sandbox_files(url: str) -> list[dict]:
    return httpx.get(f"{url}/_sandbox/state").json()["files"]


def register() -> Register:
    return resources.open_register(load_settings())


def assert_sent_exactly_once(sandbox_url: str, result: dict) -> None:
    files = sandbox_files(sandbox_url)
    assert [f["senderReference"] for f in files] == [result["msg_id"]]
    reg = register()
    try:
        batches = reg.batches()
        assert [(b.msg_id, b.state, b.provider_file_id) for b in batches] == [
            (result["msg_id"], BatchState.SENT, files[0]["id"])
        ]
        payments = reg.payments(result["msg_id"])
        assert len(payments) == 8 and {p.state for p in payments} == {PaymentState.SENT}
        assert reg.batch(result["msg_id"]).file_state == "PROVIDER_OK"
    finally:
        reg.close()
    store = resources.open_store(load_settings())
    # The provider holds exactly the bytes that were archived.
    assert (
        files[0]["sha256"]
        == store.head(result["raw_key"]).sha256
        == hashlib.sha256(store.read(result["raw_key"])).hexdigest()
    )


def test_sends_a_batch(payables: Path, sandbox_url: str) -> None:
    result = send_payment_file(payables=str(payables), company="demo", send_mode="Test")
    assert result["uploaded"] is True and result["provider_status"] == "OK"
    assert_sent_exactly_once(sandbox_url, result)


def test_running_twice_sends_once(payables: Path, sandbox_url: str) -> None:
    first = send_payment_file(payables=str(payables), company="demo", send_mode="Test")
    second = send_payment_file(payables=str(payables), company="demo", send_mode="Test")
    assert (first["uploaded"], second["uploaded"]) == (True, False)
    assert second["msg_id"] == first["msg_id"] and second["provider_file_id"] == first["provider_file_id"]
    assert_sent_exactly_once(sandbox_url, second)


@pytest.mark.parametrize(
    ("owner", "step"),
    [
        (send, "register_built"),  # killed after the archive, before the register knows the file
        (Register, "record_sent"),  # killed after the upload, before the register update
        (send, "follow_status"),  # killed after the register update, before the status follow-up
    ],
    ids=["after-archive", "after-upload", "after-register-sent"],
)
def test_killed_at_a_step_boundary_and_run_again(
    payables: Path, sandbox_url: str, monkeypatch: pytest.MonkeyPatch, owner: object, step: str
) -> None:
    crash_once(monkeypatch, owner, step)
    with pytest.raises(Crash):
        send_payment_file(payables=str(payables), company="demo", send_mode="Test")
    result = send_payment_file(payables=str(payables), company="demo", send_mode="Test")
    assert_sent_exactly_once(sandbox_url, result)


def test_provider_drops_the_connection_after_storing_the_upload(payables: Path, sandbox_url: str) -> None:
    httpx.post(f"{sandbox_url}/_sandbox/faults", json=[{"route": "upload", "drop_after_store": True}])
    result = send_payment_file(payables=str(payables), company="demo", send_mode="Test")
    assert result["uploaded"] is False  # the retry found the stored file instead of uploading again
    assert_sent_exactly_once(sandbox_url, result)


def test_an_invalid_batch_fails_the_run_and_sends_nothing(
    tmp_path: Path, sandbox_url: str, monkeypatch
) -> None:
    monkeypatch.setenv("PAYDAG_PAGERO_BASE_URL", sandbox_url)
    day = bankdays.next_bank_day(date.today() + timedelta(days=3)).isoformat()
    bad = write_csv(
        tmp_path / "bad.csv",
        [row(payment_id="OK", execution_date=day), row(payment_id="BAD", account="5050-1056")],
    )
    with pytest.raises(send.BatchInvalid, match="BAD"):
        send_payment_file(payables=str(bad), company="demo", send_mode="Test")
    assert sandbox_files(sandbox_url) == []
    reg = register()
    assert reg.batches() == []
    reg.close()


def test_two_sends_of_one_batch_started_together_send_one_file(payables: Path, sandbox_url: str) -> None:
    """The company's send claim keeps them apart: the second finds the first's file at the provider."""
    from concurrent.futures import ThreadPoolExecutor

    def run(_: int) -> dict:
        return send_payment_file(payables=str(payables), company="demo", send_mode="Test")

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, range(2)))
    assert sorted(r["uploaded"] for r in results) == [False, True]
    assert_sent_exactly_once(sandbox_url, results[0])
    reg = register()
    try:
        actions = [e.action.value for e in reg.claims.events("send", "demo")]
    finally:
        reg.close()
    assert actions == ["TAKEN", "RELEASED", "TAKEN", "RELEASED"]  # one after the other, never side by side


def test_a_send_waits_for_its_companys_claim_and_sends_nothing_without_it(
    payables: Path, sandbox_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paydag.register import ClaimBusy

    monkeypatch.setenv("PAYDAG_CLAIM_WAIT_SECONDS", "1")
    reg = register()
    try:
        reg.claims.take("send", "demo", "a send on another worker", lease_seconds=60)
        with pytest.raises(ClaimBusy, match="send claim of company demo is held by a send on another worker"):
            send_payment_file(payables=str(payables), company="demo", send_mode="Test")
    finally:
        reg.close()
    assert sandbox_files(sandbox_url) == []


def test_a_second_batch_paying_the_same_ocr_to_the_same_account_is_held(
    payables: Path, sandbox_url: str, tmp_path: Path
) -> None:
    first = send_payment_file(payables=str(payables), company="demo", send_mode="Test")
    earlier = next(r for r in csv.DictReader(payables.open(encoding="utf-8")) if r["ocr"])
    again = earlier | {"payment_id": "NEW-ID-SAME-INVOICE"}
    other = earlier | {"payment_id": "OTHER", "ocr": "", "message": "Faktura 4242", "amount": "12.34"}
    second = write_csv(tmp_path / "second.csv", [again, other])
    with pytest.raises(send.BatchInvalid) as caught:
        send_payment_file(payables=str(second), company="demo", send_mode="Test")
    [held] = caught.value.report.errors
    assert held.payment_id == "NEW-ID-SAME-INVOICE" and held.field == "duplicate"
    assert f"repeats payment {earlier['payment_id']} of batch {first['msg_id']}" in held.reason
    assert len(sandbox_files(sandbox_url)) == 1  # nothing more was sent

    partial = send_payment_file(payables=str(second), company="demo", send_mode="Test", allow_partial=True)
    assert partial["payments"] == 1 and len(sandbox_files(sandbox_url)) == 2
    reg = register()
    try:
        assert [p.payment_id for p in reg.payments(partial["msg_id"])] == ["OTHER"]
    finally:
        reg.close()


def test_a_batch_due_on_the_day_after_the_cut_off_is_refused_naming_the_next_bank_day(
    tmp_path: Path, sandbox_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYDAG_PAGERO_BASE_URL", sandbox_url)
    day = bankdays.next_bank_day(date.today() + timedelta(days=3))
    late = write_csv(tmp_path / "late.csv", [row(payment_id="LATE", execution_date=day.isoformat())])
    as_of = f"{day}T14:30"  # checked as of that afternoon: past the domestic cut-off, 13:00
    with pytest.raises(send.BatchInvalid) as caught:
        send_payment_file(payables=str(late), company="demo", send_mode="Test", as_of=as_of)
    [error] = caught.value.report.errors
    next_day = bankdays.next_bank_day(day + timedelta(days=1))
    assert error.field == "execution_date" and error.reason.endswith(f"the next possible date is {next_day}")
    assert "domestic cut-off 13:00 (it is 14:30 in Stockholm)" in error.reason
    assert sandbox_files(sandbox_url) == []
    moved = send_payment_file(payables=str(late), company="demo", send_mode="Test", as_of=as_of,
                              move_to_next_bank_day=True)  # fmt: skip
    assert moved["uploaded"] is True and len(sandbox_files(sandbox_url)) == 1

"""The flows over SFTP, against a real OpenSSH server on loopback: a company whose channel is SFTP sends
its payment file to the outbox exactly once (a crash after the upload finds it by name), the bank's
answer in the inbox is applied and moved to the archive only once it is durable, and settlement
reports are ingested from an SFTP inbox and archived there."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

import tasks.poll
import tasks.send
from flows.ingest_settlement import ingest_settlement_report
from flows.poll_returns import poll_return_files
from flows.send_payments import send_payment_file
from paydag import resources
from paydag.register import Register
from paydag.samples import sample_payables, write_payables_csv
from paydag.settings import load_settings
from sandbox.bankfiles import pain002
from tests.conftest import SETTLEMENT_V2
from tests.flows.test_send_payments import Crash, crash_once


@pytest.fixture
def bank(sftp_server, monkeypatch: pytest.MonkeyPatch):
    """The demo company's files go by SFTP: its folders on the server, the key and known_hosts in the
    environment (the Secret block's stand-in)."""
    for name, value in sftp_server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PAYDAG_COMPANIES__DEMO__CHANNEL", "sftp")
    monkeypatch.setenv("PAYDAG_COMPANIES__DEMO__SFTP__URL", sftp_server.url("bank"))
    for folder in ("outbox", "inbox"):
        sftp_server.local(f"bank/{folder}").mkdir(parents=True)
    for t in (tasks.send.deliver_file, tasks.send.follow_status, tasks.poll.list_documents,
              tasks.poll.receive_document, tasks.poll.acknowledge):  # fmt: skip
        monkeypatch.setattr(t, "retry_delay_seconds", [0] * 5)
    return sftp_server


def payables(tmp_path: Path) -> Path:
    rows = sample_payables(4, company="demo", first_day=date.today() + timedelta(days=3))
    return write_payables_csv(rows, tmp_path / "payables.csv")


def answer(server, msg_id: str, name: str = "pain002.xml") -> None:
    """The bank accepts the whole file: its pain.002 written to the inbox as a bank writes (renamed in)."""
    data = pain002(version="03", msg_id=f"ACK-{msg_id}", created="2026-11-24T08:00:00", original_msg_id=msg_id,
                   group_status="ACCP")  # fmt: skip
    part = server.local("bank/inbox") / f".{name}.part"
    part.write_bytes(data)
    part.rename(server.local("bank/inbox") / name)


def states() -> dict[str, str]:
    register = Register(load_settings().effective_database_url)
    try:
        return {p.payment_id: p.state.value for p in register.payments()}
    finally:
        register.close()


def test_a_payment_file_goes_by_sftp_once_and_the_answer_comes_back(bank, tmp_path: Path) -> None:
    sent = send_payment_file(payables=str(payables(tmp_path)), company="demo", send_mode="Test")
    outbox = bank.local("bank/outbox")
    assert [p.name for p in outbox.iterdir()] == [f"{sent['msg_id']}.xml"]
    raw = resources.open_store(load_settings())
    assert (outbox / f"{sent['msg_id']}.xml").read_bytes() == raw.read(sent["raw_key"])  # the archived bytes
    assert sent["provider_status"] == "WAITING"
    again = send_payment_file(payables=str(payables(tmp_path)), company="demo", send_mode="Test")
    assert again["uploaded"] is False and len(list(outbox.iterdir())) == 1

    answer(bank, sent["msg_id"])
    polled = poll_return_files(company="demo")
    assert polled["demo"]["files"] == 1 and polled["demo"]["acknowledged"] == 1
    assert set(states().values()) == {"ACCEPTED"}
    assert list(bank.local("bank/inbox").iterdir()) == []
    assert [p.name for p in bank.local("bank/archive").iterdir()] == ["pain002.xml"]
    assert [k for k in raw.list("incoming/demo/") if k.endswith("pain002.xml")]
    assert poll_return_files(company="demo")["demo"]["files"] == 0


def test_a_crash_after_the_upload_finds_the_file_by_name(bank, tmp_path: Path, monkeypatch) -> None:
    crash_once(monkeypatch, Register, "record_sent")  # the upload happened; its record did not
    with pytest.raises(Crash):
        send_payment_file(payables=str(payables(tmp_path)), company="demo", send_mode="Test")
    assert len(list(bank.local("bank/outbox").iterdir())) == 1
    rerun = send_payment_file(payables=str(payables(tmp_path)), company="demo", send_mode="Test")
    assert rerun["uploaded"] is False and rerun["provider_file_id"] == f"{rerun['msg_id']}.xml"
    assert len(list(bank.local("bank/outbox").iterdir())) == 1  # not uploaded twice
    assert set(states().values()) == {"SENT"}


def test_a_return_file_stays_in_the_inbox_until_it_is_durable(bank, tmp_path: Path, monkeypatch) -> None:
    sent = send_payment_file(payables=str(payables(tmp_path)), company="demo", send_mode="Test")
    answer(bank, sent["msg_id"])
    crash_once(monkeypatch, Register, "apply_status_report")  # killed before the register committed
    with pytest.raises(RuntimeError, match="could not be received"):
        poll_return_files(company="demo")
    assert [p.name for p in bank.local("bank/inbox").iterdir()] == ["pain002.xml"]  # not archived
    assert set(states().values()) == {"SENT"}
    polled = poll_return_files(company="demo")
    assert polled["demo"]["acknowledged"] == 1 and set(states().values()) == {"ACCEPTED"}
    assert list(bank.local("bank/inbox").iterdir()) == []


def test_settlement_reports_are_ingested_from_an_sftp_inbox(sftp_server, monkeypatch) -> None:
    """The key and known_hosts from the Secret block `sftp-credentials` this time, none in the environment."""
    import json

    from prefect.blocks.system import Secret

    from tasks.resources import SFTP_BLOCK

    credentials = sftp_server.credentials
    Secret(
        value=json.dumps({"private_key": credentials.private_key, "known_hosts": credentials.known_hosts})
    ).save(SFTP_BLOCK, overwrite=True)
    try:  # no PAYDAG_SFTP_* in the environment: the block is all there is
        inbox = sftp_server.local("swedbankpay")
        inbox.mkdir()
        shutil.copy(SETTLEMENT_V2, inbox / SETTLEMENT_V2.name)
        monkeypatch.setenv("PAYDAG_SETTLEMENT_INBOX", sftp_server.url("swedbankpay"))
        done = ingest_settlement_report()
        [(source, outcome)] = done["reports"].items()
        assert source == f"{sftp_server.url('swedbankpay')}/{SETTLEMENT_V2.name}"
        assert outcome["state"] == "CURATED" and outcome["rows"] == 12
        assert [p.name for p in (inbox / "archive").iterdir()] == [SETTLEMENT_V2.name]  # kept, so archived
        assert sorted(p.name for p in inbox.iterdir()) == ["archive"]
        assert ingest_settlement_report()["reports"] == {}  # nothing new
    finally:
        Secret.delete(SFTP_BLOCK)  # the other tests read the environment

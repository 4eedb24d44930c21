"""Receiving one document: stored before it is registered, applied once even by two polls at once."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from paydag import ingest, poll
from paydag.providers.channel import ReceivedDocument
from paydag.register import Register
from paydag.settings import load_settings
from paydag.storage import Direction, LocalRawStore, RentLedgerDrop
from sandbox.bankfiles import BankEntry, BankTransaction, camt054
from tests.conftest import FIXTURES, SETTLEMENT_V2

DEPOSIT = camt054(
    version="04",
    msg_id="C1",
    created="2026-11-25T06:00:00",
    account_iban="SE6780000832791234567890",
    entries=[
        BankEntry(
            "CRDT",
            "2026-11-25",
            "DEP-1",
            tuple(
                BankTransaction(Decimal("8450.00"), "SEK", ocr=f"1000{i}", creditor_account="50501055")
                for i in range(3)
            ),
            family="RCDT",
        )
    ],
)


def place(url: str, data: bytes, name: str) -> None:
    body = {
        "company_id": "demo-0001",
        "document_type": "camt.054",
        "name": name,
        "content_base64": base64.b64encode(data).decode(),
    }
    httpx.post(f"{url}/_sandbox/documents", json=body).raise_for_status()


def test_two_polls_at_once_apply_a_document_once(
    database_url: str, sandbox_url: str, pagero, tmp_path: Path
) -> None:
    register = Register(database_url)
    register.ensure_company("demo", load_settings().company("demo"))
    place(sandbox_url, DEPOSIT, "Camt054C.xml")
    [document] = poll.new_documents(pagero, "demo-0001")
    store, ledger = LocalRawStore(tmp_path / "raw"), RentLedgerDrop(str(tmp_path / "ledger"))

    def receive(_: int) -> poll.DocumentOutcome:
        return poll.receive_document(
            document, company_id="demo", channel=pagero, raw_store=store, register=register, ledger=ledger
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(receive, range(2)))
    assert sum(o.incoming for o in outcomes) == 3
    assert len(register.incoming_payments("demo")) == 3
    assert len(list(store.list("incoming/demo/"))) == 1
    assert len(list((tmp_path / "ledger").iterdir())) == 1
    assert poll.acknowledge(pagero, outcomes[:1]) == [document.id]
    assert poll.new_documents(pagero, "demo-0001") == []
    register.close()


def test_an_unknown_file_is_quarantined_with_its_reason(
    database_url: str, sandbox_url: str, pagero, tmp_path: Path
) -> None:
    register = Register(database_url)
    register.ensure_company("demo", load_settings().company("demo"))
    place(sandbox_url, b"%PDF-1.7 not a bank file", "statement.pdf")
    [document] = poll.new_documents(pagero, "demo-0001")
    store = LocalRawStore(tmp_path / "raw")
    outcome = poll.receive_document(
        document,
        company_id="demo",
        channel=pagero,
        raw_store=store,
        register=register,
        ledger=RentLedgerDrop(str(tmp_path / "l")),
    )
    assert outcome.state == "QUARANTINED" and "not XML" in outcome.reason
    assert [k for k in store.list("quarantine/demo/")] and [k for k in store.list("incoming/demo/")]
    assert register.received_file(document.id).state == "QUARANTINED"
    register.close()


def test_a_settlement_report_is_kept_and_handed_to_the_ingest(
    database_url: str, sandbox_url: str, pagero, tmp_path: Path
) -> None:
    register = Register(database_url)
    register.ensure_company("demo", load_settings().company("demo"))
    report = SETTLEMENT_V2.read_bytes()
    place(sandbox_url, report, "TransactionList.xml")
    [document] = poll.new_documents(pagero, "demo-0001")
    store = LocalRawStore(tmp_path / "raw")

    def receive() -> poll.DocumentOutcome:
        return poll.receive_document(
            document, company_id="demo", channel=pagero, raw_store=store, register=register,
            ledger=RentLedgerDrop(str(tmp_path / "l")),
        )  # fmt: skip

    outcome = receive()
    assert (outcome.state, outcome.kind) == ("HANDED_OVER", "settlement")
    assert register.received_file(document.id).state == "HANDED_OVER"
    assert receive().state == "ALREADY"  # a poll that died before its ack: not stored or registered again
    assert poll.acknowledge(pagero, [outcome]) == [document.id]

    assert ingest.waiting_reports("demo", register) == [outcome.raw_key]  # until an ingest takes it
    archived = ingest.kept(outcome.raw_key, company_id="demo", raw_store=store, register=register)
    assert archived.raw.key == outcome.raw_key and archived.name == "TransactionList.xml"
    assert archived.file_id == register.received_file(document.id).id  # the poll's record, not a second one
    assert list(store.list()) == [outcome.raw_key]
    register.close()


def test_a_key_not_in_the_raw_store_is_named(database_url: str, tmp_path: Path) -> None:
    register = Register(database_url)
    with pytest.raises(FileNotFoundError, match=r"incoming/demo/nothing\.xml"):
        ingest.kept(
            "incoming/demo/nothing.xml",
            company_id="demo",
            raw_store=LocalRawStore(tmp_path),
            register=register,
        )
    register.close()


@pytest.fixture
def demo_register(database_url: str) -> Iterator[Register]:
    register = Register(database_url)
    register.ensure_company("demo", load_settings().company("demo"))
    yield register
    register.close()


STATEMENTS = FIXTURES / "camt053"


def test_a_statement_is_applied_and_kept_not_quarantined(
    demo_register: Register, sandbox_url: str, pagero, tmp_path: Path
) -> None:
    register = demo_register
    store, ledger = LocalRawStore(tmp_path / "raw"), RentLedgerDrop(str(tmp_path / "ledger"))
    for name in ("paydag_camt.053.001.08_statement.xml", "paydag_camt.053.001.08_broken_balance.xml"):
        place(sandbox_url, (STATEMENTS / name).read_bytes(), name)
    good, broken = sorted(poll.new_documents(pagero, "demo-0001"), key=lambda d: "broken" in (d.name or ""))

    def receive(document: ReceivedDocument) -> poll.DocumentOutcome:
        return poll.receive_document(
            document, company_id="demo", channel=pagero, raw_store=store, register=register, ledger=ledger
        )

    kept = receive(good)
    assert (kept.kind, kept.state, kept.incoming) == ("camt.053.001.08", poll.DocumentState.PROCESSED, 2)
    assert sorted(p.ocr for p in register.incoming_payments("demo")) == ["12345682", "98765439"]
    assert [k for k in store.list("incoming/demo/") if k.endswith("statement.xml")]
    refused = receive(broken)
    assert refused.state == poll.DocumentState.QUARANTINED and "difference -10000" in refused.reason
    assert len(register.incoming_payments("demo")) == 2  # nothing of it applied


@pytest.mark.parametrize(
    ("kinds", "recorded"), [(("camt.054", "camt.053.001.08"), 2), (("camt.054", "camt.054"), 4)]
)
def test_a_statement_repeating_its_notification_records_no_incoming_payment_twice(
    demo_register: Register, tmp_path: Path, kinds: tuple[str, str], recorded: int
) -> None:
    """A statement's credits that a notification gave before are recorded once; two notifications with
    the same values are two payments (a duplicate payment is reported, never dropped)."""
    from paydag.formats.camt053 import parse_camt053

    store = LocalRawStore(tmp_path / "raw")
    statement = (STATEMENTS / "paydag_camt.053.001.08_statement.xml").read_bytes()
    for n, kind in enumerate(kinds):
        copy = statement.replace(b"STMT-20261125<", f"STMT-{n}<".encode())
        raw = store.put(Direction.INCOMING, "demo", f"s{n}.xml", copy, source="t")
        received = demo_register.record_received(
            "demo", raw=raw, name=f"s{n}.xml", kind=kind, provider_document_id=f"d{n}"
        )
        demo_register.apply_account_notification(received.id, parse_camt053(copy).transactions)
    assert len(demo_register.incoming_payments("demo")) == recorded

"""The bank's answers applied to the register (SQLite and PostgreSQL): monotonic, idempotent, traced."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from paydag.formats.camt054 import parse_camt054
from paydag.formats.pain002 import parse_pain002
from paydag.register import PaymentState, Register, returns
from paydag.register.batches import Batches
from paydag.settings import load_settings
from paydag.storage import Direction, LocalRawStore
from sandbox.bankfiles import BankEntry, BankTransaction, PmtInfStatus, TxStatus, camt054, pain002
from tests.paydag.register.test_register import payments

MSG = "PDRET0001"
CREATED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
def built(database_url: str, tmp_path: Path) -> Register:
    """The batch built, not yet sent."""
    reg = Register(database_url)
    reg.ensure_company("demo", load_settings().company("demo"))
    store = LocalRawStore(tmp_path / "raw")
    raw = store.put(Direction.OUTGOING, "demo", "pain001.xml", b"<Document/>", source="test")
    reg.begin_batch(MSG, "demo", "payables.csv", CREATED)
    # INV-1001..1003 in the first PmtInf, INV-1004..1005 in the second.
    reg.record_built(
        MSG, raw=raw, name="pain001.xml", file_format="pain.001.001.03", nb_of_txs=5, ctrl_sum="30715.60",
        payments=((p, p.payment_id, f"{MSG}-00{1 if n < 3 else 2}") for n, p in enumerate(payments())),
    )  # fmt: skip
    yield reg
    reg.close()


@pytest.fixture
def register(built: Register) -> Register:
    built.record_sent(MSG, "file-1")
    return built


class Bank:
    """Receives files into the register the way the poll flow does: raw store first, then register."""

    def __init__(self, register: Register, tmp_path: Path) -> None:
        self.register, self.store, self.n = register, LocalRawStore(tmp_path / "raw"), 0

    def receive(self, data: bytes, kind: str):
        self.n += 1
        raw = self.store.put(Direction.INCOMING, "demo", f"{kind}-{self.n}.xml", data, source="test")
        received = self.register.record_received(
            "demo", raw=raw, name=f"{kind}.xml", kind=kind, provider_document_id=f"doc-{raw.sha256[:12]}"
        )
        if kind == "pain.002":
            return self.register.apply_status_report(received.id, parse_pain002(data))
        return self.register.apply_account_notification(received.id, parse_camt054(data).transactions)


@pytest.fixture
def bank(register: Register, tmp_path: Path) -> Bank:
    return Bank(register, tmp_path)


def states(register: Register) -> dict[str, str]:
    return {p.payment_id: p.state.value for p in register.payments(MSG)}


def status_report(
    group: str | None = None, *infos: PmtInfStatus, reason: str | None = None, text: str | None = None
) -> bytes:
    return pain002(
        version="03",
        msg_id=f"B-{group}-{len(infos)}-{reason}",
        created="2026-11-23T08:00:00",
        original_msg_id=MSG,
        group_status=group,
        group_reason=reason,
        group_text=text,
        payment_infos=infos,
    )


def debit_notification(
    *transactions: BankTransaction, batch: tuple[str, str] | None = None, booked: str = "2026-11-24"
) -> bytes:
    entry = BankEntry(
        "DBIT",
        booked,
        "EXE-1",
        transactions,
        batch_msg_id=batch[0] if batch else None,
        batch_pmt_inf_id=batch[1] if batch else None,
    )
    return camt054(
        version="02",
        msg_id=f"N-{len(transactions)}-{batch}",
        created="2026-11-24T18:00:00",
        account_iban="SE6780000832791234567890",
        entries=[entry],
    )


def test_accepted_then_booked_and_replays_change_nothing(register: Register, bank: Bank) -> None:
    accepted = status_report("ACCP")
    assert bank.receive(accepted, "pain.002").changed == 5
    assert set(states(register).values()) == {"ACCEPTED"}
    assert bank.receive(accepted, "pain.002").changed == 0  # the same file again: already processed

    booked = debit_notification(BankTransaction(Decimal("18450.00"), "SEK", end_to_end_id="INV-1001"))
    assert bank.receive(booked, "camt.054").changed == 1
    assert states(register)["INV-1001"] == "BOOKED"


def test_group_reject_rejects_every_payment_with_its_reason(register: Register, bank: Bank) -> None:
    result = bank.receive(status_report("RJCT", reason="DU01", text="ISO Duplicate Message ID"), "pain.002")
    assert result.changed == 5
    assert {(p.state, p.reason_code, p.reason_text) for p in register.payments(MSG)} == {
        (PaymentState.REJECTED, "DU01", "ISO Duplicate Message ID")
    }
    # A reject never reverts.
    bank.receive(status_report("ACCP"), "pain.002")
    assert set(states(register).values()) == {"REJECTED"}


def test_payment_information_reject_covers_its_payments_only(register: Register, bank: Bank) -> None:
    bank.receive(
        status_report(None, PmtInfStatus(f"{MSG}-002", "RJCT", "NARR", "CAP Invalid code")), "pain.002"
    )
    assert states(register) == {
        "INV-1001": "SENT",
        "INV-1002": "SENT",
        "INV-1003": "SENT",
        "INV-1004": "REJECTED",
        "INV-1005": "REJECTED",
    }
    assert register.payments(MSG)[3].reason_text == "CAP Invalid code"


def test_part_is_resolved_per_transaction(register: Register, bank: Bank) -> None:
    report = status_report(
        "PART",
        PmtInfStatus(
            f"{MSG}-001",
            "PART",
            transactions=(
                TxStatus("INV-1001", "ACCP"),
                TxStatus("INV-1002", "RJCT", "AC01", "Kontot finns inte"),
            ),
        ),
    )
    result = bank.receive(report, "pain.002")
    assert states(register) == {
        "INV-1001": "ACCEPTED",
        "INV-1002": "REJECTED",
        "INV-1003": "SENT",
        "INV-1004": "SENT",
        "INV-1005": "SENT",
    }
    assert result.rejected_or_returned == [("INV-1002", "REJECTED", "AC01", "Kontot finns inte")]


def test_a_booking_before_its_status_report_still_ends_booked(register: Register, bank: Bank) -> None:
    bank.receive(
        debit_notification(BankTransaction(Decimal("7125.50"), "SEK", end_to_end_id="INV-1002")), "camt.054"
    )
    bank.receive(status_report("ACCP"), "pain.002")
    assert states(register)["INV-1002"] == "BOOKED"
    bank.receive(status_report("RJCT", reason="AM04"), "pain.002")  # contradicts the booking: ignored
    assert states(register)["INV-1002"] == "BOOKED"


def test_a_booking_and_a_status_report_applied_at_once_still_end_booked(
    register: Register, bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll applies its files on several threads. Here the status report reads its payments (SENT) and
    then waits to commit until the booking has committed: the lost update PostgreSQL's READ COMMITTED
    allowed (ACCEPTED written over BOOKED). The register must make one of them wait for the other, so
    each wait below gives up after a moment when the other apply cannot start."""
    both_in, report_read, booked = threading.Barrier(2, timeout=0.5), threading.Event(), threading.Event()

    def status_report_applied(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            both_in.wait()
        result = real_status_report(*args, **kwargs)  # read and changed in the session, not committed
        report_read.set()
        booked.wait(timeout=1.5)
        return result

    def booking_applied(*args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            both_in.wait()
        report_read.wait(timeout=1.5)
        return real_notification(*args, **kwargs)

    real_status_report, real_notification = returns.apply_status_report, returns.apply_account_notification
    monkeypatch.setattr(returns, "apply_status_report", status_report_applied)
    monkeypatch.setattr(returns, "apply_account_notification", booking_applied)
    booking = debit_notification(BankTransaction(Decimal("7125.50"), "SEK", end_to_end_id="INV-1002"))

    def book() -> None:
        try:
            bank.receive(booking, "camt.054")
        finally:
            booked.set()

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(book), pool.submit(bank.receive, status_report("ACCP"), "pain.002")]:
            future.result()
    assert states(register) == {
        "INV-1001": "ACCEPTED", "INV-1002": "BOOKED", "INV-1003": "ACCEPTED", "INV-1004": "ACCEPTED",
        "INV-1005": "ACCEPTED",
    }  # fmt: skip


def test_a_status_report_applied_while_the_batch_is_recorded_as_sent_is_not_undone(
    built: Register, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bank answered before the send recorded its upload (a send that crashed after uploading and
    runs again, a poll in between). Here the send reads the payments (BUILT) and then waits to write
    SENT until the status report has committed ACCEPTED: without the company's lock, SENT was written
    over ACCEPTED."""
    sent_read, reported = threading.Event(), threading.Event()
    real_record = Batches._batch_record

    def record_after_the_report(batch):
        sent_read.set()
        reported.wait(timeout=1.5)  # the register makes the report wait for this commit: give up
        return real_record(batch)

    monkeypatch.setattr(Batches, "_batch_record", staticmethod(record_after_the_report))
    bank = Bank(built, tmp_path)

    def report() -> None:
        sent_read.wait(timeout=1.5)
        try:
            bank.receive(status_report("ACCP"), "pain.002")
        finally:
            reported.set()

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(built.record_sent, MSG, "file-1"), pool.submit(report)]:
            future.result()
    assert set(states(built).values()) == {"ACCEPTED"}


def test_batch_booking_by_message_and_payment_information(register: Register, bank: Bank) -> None:
    # One entry for the second PmtInf (1200.10 SEK + 950.00 EUR would not sum; use the SEK-only first).
    total = Decimal("18450.00") + Decimal("7125.50") + Decimal("2990.00")
    bank.receive(
        debit_notification(
            BankTransaction(total, "SEK", msg_id=MSG, pmt_inf_id=f"{MSG}-001"), batch=(MSG, f"{MSG}-001")
        ),
        "camt.054",
    )
    assert states(register) == {
        "INV-1001": "BOOKED",
        "INV-1002": "BOOKED",
        "INV-1003": "BOOKED",
        "INV-1004": "SENT",
        "INV-1005": "SENT",
    }


def test_fuzzy_match_on_amount_and_date_is_recorded_as_such(register: Register, bank: Bank) -> None:
    result = bank.receive(debit_notification(BankTransaction(Decimal("2990.00"), "SEK")), "camt.054")
    assert result.fuzzy == 1 and states(register)["INV-1003"] == "BOOKED"
    assert ("SENT", "BOOKED") in [(f, t) for f, t, d in register.events(MSG) if d and "fuzzy match" in d]
    unmatched = bank.receive(
        debit_notification(BankTransaction(Decimal("1.00"), "SEK")), "camt.054"
    ).unmatched
    assert unmatched and "0 candidate payments" in unmatched[0]


def test_a_return_reopens_a_booked_payment(register: Register, bank: Bank) -> None:
    bank.receive(
        debit_notification(BankTransaction(Decimal("18450.00"), "SEK", end_to_end_id="INV-1001")), "camt.054"
    )
    returned = BankEntry(
        "CRDT",
        "2026-11-26",
        "RET-1",
        (BankTransaction(Decimal("18450.00"), "SEK", end_to_end_id="INV-1001", return_reason="AC04"),),
        reversal=True,
    )
    bank.receive(
        camt054(
            version="08",
            msg_id="R1",
            created="2026-11-26T06:00:00",
            account_iban="SE6780000832791234567890",
            entries=[returned],
        ),
        "camt.054",
    )
    [p] = [p for p in register.payments(MSG) if p.payment_id == "INV-1001"]
    assert (p.state, p.reason_code) == (PaymentState.RETURNED, "AC04")
    assert register.incoming_payments() == []  # a returned payment is not incoming money


def test_incoming_payments_are_recorded_once(register: Register, bank: Bank) -> None:
    deposit = BankEntry(
        "CRDT",
        "2026-11-25",
        "DEP-1",
        tuple(
            BankTransaction(
                Decimal("8450.00"),
                "SEK",
                end_to_end_id="NOTPROVIDED",
                ocr=f"1000{i}",
                payer_name=f"Hyresgäst {i}",
                creditor_account="50501055",
            )
            for i in range(3)
        ),
        family="RCDT",
    )
    data = camt054(
        version="04",
        msg_id="C1",
        created="2026-11-25T06:00:00",
        account_iban="SE6780000832791234567890",
        entries=[deposit],
    )
    assert bank.receive(data, "camt.054").incoming == 3
    assert bank.receive(data, "camt.054").incoming == 0
    rows = register.incoming_payments("demo")
    assert [(r.ocr, r.amount_minor, r.receiving_account) for r in rows] == [
        (f"1000{i}", 845000, "50501055") for i in range(3)
    ]


def test_unknown_message_is_reported_not_applied(register: Register, bank: Bank) -> None:
    data = pain002(
        version="10",
        msg_id="X",
        created="2026-11-23T08:00:00",
        original_msg_id="PDUNKNOWN",
        group_status="RJCT",
    )
    assert bank.receive(data, "pain.002").unmatched == ["OrgnlMsgId PDUNKNOWN: no such batch"]
    assert set(states(register).values()) == {"SENT"}


def test_a_received_document_is_registered_once(register: Register, tmp_path: Path) -> None:
    raw = LocalRawStore(tmp_path / "raw").put(Direction.INCOMING, "demo", "a.xml", b"<a/>", source="poll")
    first = register.record_received(
        "demo", raw=raw, name="a.xml", kind="pain.002", provider_document_id="doc-1"
    )
    again = register.record_received(
        "demo", raw=raw, name="a.xml", kind="pain.002", provider_document_id="doc-1"
    )
    other_bytes_same_doc = LocalRawStore(tmp_path / "raw").put(
        Direction.INCOMING, "demo", "a.xml", b"<b/>", source="poll"
    )
    third = register.record_received(
        "demo", raw=other_bytes_same_doc, name="a.xml", kind="pain.002", provider_document_id="doc-1"
    )
    assert first.new and not again.new and not third.new
    assert first.id == again.id == third.id
    assert register.received_file("doc-1").id == first.id


def test_a_duplicate_submission_reject_leaves_accepted_payments_alone(register: Register, bank: Bank) -> None:
    bank.receive(status_report("ACCP"), "pain.002")
    result = bank.receive(status_report("RJCT", reason="DU01", text="Duplicate Message ID"), "pain.002")
    assert result.changed == 0 and "duplicate submission" in result.unmatched[0]
    assert set(states(register).values()) == {"ACCEPTED"}


def test_an_entry_listed_without_amounts_is_one_incoming_payment_of_its_total(
    register: Register, bank: Bank
) -> None:
    from tests.conftest import FIXTURES

    data = (FIXTURES / "camt054" / "paydag_camt.054.001.02_real_traits.xml").read_bytes()
    result = bank.receive(data, "camt.054")
    rows = register.incoming_payments("demo")
    assert [r.amount_minor for r in rows].count(300000) == 1  # the entry once, never 3 × 3 000.00
    assert [r.references for r in rows if r.amount_minor == 620000] == [("98765439", "55555551")]
    assert result.incoming == 4 and sum(r.amount_minor for r in rows) == 845000 + 300000 + 0 + 620000
    assert [u for u in result.unmatched if "listed without its own amount" in u] == [
        "Ntry #2 TxDtls #2: part of entry #2's total, listed without its own amount",
        "Ntry #2 TxDtls #3: part of entry #2's total, listed without its own amount",
    ]


def test_a_status_that_names_a_payment_by_instr_id_or_uetr_only_updates_it(
    register: Register, bank: Bank
) -> None:
    from paydag.formats.pain001 import instruction_id, uetr

    def tx(ids: str, status: str, reason: str = "") -> str:
        rsn = f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>" if reason else ""
        return f"<TxInfAndSts>{ids}<TxSts>{status}</TxSts>{rsn}</TxInfAndSts>"

    data = (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>'
        "<GrpHdr><MsgId>S-1</MsgId><CreDtTm>2026-11-23T08:00:00</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{MSG}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>"
        f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{MSG}-001</OrgnlPmtInfId>"
        + tx(f"<OrgnlInstrId>{instruction_id(MSG, 'INV-1001')}</OrgnlInstrId>", "RJCT", "AC04")
        + tx(f"<OrgnlUETR>{uetr(MSG, 'INV-1002')}</OrgnlUETR>", "ACCP")
        + "</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    ).encode()
    result = bank.receive(data, "pain.002")
    assert result.unmatched == []
    assert {k: v for k, v in states(register).items() if k in ("INV-1001", "INV-1002")} == {
        "INV-1001": "REJECTED",
        "INV-1002": "ACCEPTED",
    }


@pytest.mark.parametrize(
    ("status", "meaning"), [("RCVC", "the name matches"), ("RVMC", "close match"), ("RVNM", "no match")]
)
def test_a_payee_name_check_is_an_event_never_a_rejection(
    register: Register, bank: Bank, status: str, meaning: str
) -> None:
    report = status_report(
        None, PmtInfStatus(f"{MSG}-001", None, transactions=(TxStatus("INV-1003", status),))
    )
    bank.receive(report, "pain.002")
    assert states(register)["INV-1003"] == "SENT"
    [(before, after, detail)] = [e for e in register.events(MSG) if (e[2] or "").startswith("name check")]
    assert before == after == "SENT" and detail.startswith(f"name check {status} ({meaning}")

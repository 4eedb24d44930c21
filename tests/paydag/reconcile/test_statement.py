"""camt.053 statements against the register (SQLite and PostgreSQL): each entry matched by the strongest
key it carries, or by amount and date said as fuzzy; what is left, a booked payment the statement does
not show and a break in balance continuity become exceptions that a later statement resolves."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from paydag.formats.camt053 import parse_camt053
from paydag.formats.camt054 import parse_camt054
from paydag.reconcile import EntryState, KeptStatement, reconcile_statements
from paydag.register import Register, ReportState
from paydag.storage import Direction, LocalRawStore
from sandbox.bankfiles import BankEntry, BankTransaction, camt053, camt054
from tests.paydag.register.test_returns import MSG
from tests.paydag.register.test_returns import built as built
from tests.paydag.register.test_returns import register as register

IBAN = "SE4550000000058398257466"
NOW = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


def tx(amount: str, **kw: str) -> BankTransaction:
    return BankTransaction(amount=Decimal(amount), currency="SEK", **kw)


def receive(register: Register, tmp_path: Path, data: bytes, name: str) -> int:
    raw = LocalRawStore(tmp_path / "raw").put(Direction.INCOMING, "demo", name, data, source="test")
    return register.record_received("demo", raw=raw, name=name, kind=name, provider_document_id=name).id


@pytest.fixture
def booked(register: Register, tmp_path: Path) -> Register:
    """INV-1001..1004 booked on 2026-11-24 by debit notifications, a rent payment received (AcctSvcrRef
    IN-1), and Swedbank Pay's report SP-1 curated with 990.00 to pay out."""
    debit = camt054(version="02", msg_id="N1", created="2026-11-24T20:00:00", account_iban=IBAN, entries=[
        BankEntry("DBIT", "2026-11-24", f"B-{pid}", (tx(amount, end_to_end_id=pid),))
        for pid, amount in (("INV-1001", "18450.00"), ("INV-1002", "7125.50"), ("INV-1003", "2990.00"),
                            ("INV-1004", "1200.10"))
    ])  # fmt: skip
    register.apply_account_notification(
        receive(register, tmp_path, debit, "n1.xml"), parse_camt054(debit).transactions
    )
    credit = camt054(version="02", msg_id="N2", created="2026-11-24T20:00:00", account_iban=IBAN, entries=[
        BankEntry("CRDT", "2026-11-24", "IN-1", (tx("8450.00", acct_svcr_ref="IN-1", ocr="12345682"),), family="RCDT")
    ])  # fmt: skip
    file_id = receive(register, tmp_path, credit, "n2.xml")
    register.apply_account_notification(file_id, parse_camt054(credit).transactions)
    register.record_settlement(accounting_no="SP-1", version="2", file_id=file_id, state=ReportState.CURATED,
                               row_count=3, sums_minor={"SEK": 99000}, curated_path=None, docs_key=None)  # fmt: skip
    return register


def statement(
    register: Register, sid: str, opening: str, day: str, entries: list[BankEntry], until: str | None = None
):
    data = camt053(version="08", msg_id=sid, statement_id=sid, account_iban=IBAN, opening=Decimal(opening),
                   opening_date=day, closing_date=until or day, entries=entries)  # fmt: skip
    report = parse_camt053(data, f"{sid}.xml")
    register.record_statements("demo", report.statements)
    return [KeptStatement(f"{sid}.xml", s) for s in report.statements]


def test_each_entry_is_matched_by_the_strongest_key_it_carries(booked: Register) -> None:
    entries = [
        BankEntry("DBIT", "2026-11-24", "S-1", (tx("18450.00", end_to_end_id="INV-1001"),)),
        BankEntry(
            "DBIT", "2026-11-24", "S-2", (tx("10115.50"),), batch_pmt_inf_id=f"{MSG}-001"
        ),  # 1002 + 1003
        BankEntry("DBIT", "2026-11-25", "S-3", (tx("1200.10"),)),  # no reference at all
        BankEntry("CRDT", "2026-11-24", "S-4", (tx("8450.00", acct_svcr_ref="IN-1"),), family="RCDT"),
        BankEntry("CRDT", "2026-11-25", "S-5", (tx("990.00", text="SWEDBANK PAY SP-1"),), family="RCDT"),
        BankEntry("CRDT", "2026-11-25", "S-6", (tx("555.00", acct_svcr_ref="S-6-1"),), family="RCDT"),
    ]
    result, update = reconcile_statements(
        booked, "demo", statement(booked, "ST-24", "100000.00", "2026-11-24", entries, "2026-11-25"), now=NOW
    )
    got = [(e.state, e.matched, e.how) for e in result.entries]
    assert got == [
        (EntryState.MATCHED, "payment INV-1001", "EndToEndId"),
        (EntryState.MATCHED, f"2 payment(s) of {MSG}-001", "PmtInfId (batch booking)"),
        (EntryState.FUZZY, "payment INV-1004", "amount and date"),
        (EntryState.MATCHED, "incoming payment 1", "AcctSvcrRef"),
        (EntryState.MATCHED, "settlement report SP-1", "AccountingNo in the remittance"),
        (EntryState.UNMATCHED, None, None),
    ]
    assert result.missing_payments == [] and result.breaks == []
    assert (update.entries.opened, update.payments.opened, update.balances.opened) == (1, 0, 0)
    [open_one] = booked.exceptions("statement")
    assert open_one.item_key == "S-6-1" and open_one.detail["amount_minor"] == 55500


def test_a_booked_payment_the_statement_does_not_show_waits_for_one_that_does(booked: Register) -> None:
    shown = [BankEntry("DBIT", "2026-11-24", "S-1", (tx("18450.00", end_to_end_id="INV-1001"),))]
    result, update = reconcile_statements(
        booked, "demo", statement(booked, "ST-A", "0", "2026-11-24", shown), now=NOW
    )
    assert sorted(p.payment_id for p in result.missing_payments) == ["INV-1002", "INV-1003", "INV-1004"]
    assert update.payments.opened == 3
    # The next day's statement shows them, booked a day late.
    rest = [BankEntry("DBIT", "2026-11-25", f"S-{pid}", (tx(a, end_to_end_id=pid),))
            for pid, a in (("INV-1002", "7125.50"), ("INV-1003", "2990.00"), ("INV-1004", "1200.10"))]  # fmt: skip
    _result, later = reconcile_statements(
        booked, "demo", statement(booked, "ST-B", "-18450.00", "2026-11-25", rest), now=NOW
    )
    assert later.payments.resolved == 3 and booked.exceptions("stmt-payment") == []
    [done] = [
        e for e in booked.exceptions("stmt-payment", include_resolved=True) if e.item_key.endswith("INV-1002")
    ]
    assert done.resolution == "on ST-B.xml"


def test_a_gap_in_the_statements_is_named_until_the_missing_one_arrives(booked: Register) -> None:
    day1 = statement(
        booked,
        "ST-23",
        "1000.00",
        "2026-11-23",
        [BankEntry("CRDT", "2026-11-23", "C1", (tx("50.00"),), family="RCDT")],
    )
    reconcile_statements(booked, "demo", day1, now=NOW)  # closing 1050.00
    day4 = statement(booked, "ST-26", "1200.00", "2026-11-26", [])  # 24 and 25 never came
    result, update = reconcile_statements(booked, "demo", day4, now=NOW)
    [gap] = result.breaks
    assert gap.missing_days == ("2026-11-24", "2026-11-25")
    assert "opening balance 120000 ≠ the previous statement ST-23's closing 105000" in gap.describe()
    assert update.balances.opened == 1
    # The two missing days arrive as one statement, 1050.00 → 1200.00: the series is whole again.
    middle = statement(booked, "ST-24-25", "1050.00", "2026-11-24",
                       [BankEntry("CRDT", "2026-11-25", "C2", (tx("150.00"),), family="RCDT")], "2026-11-25")  # fmt: skip
    result, update = reconcile_statements(booked, "demo", middle, now=NOW)
    assert result.breaks == [] and update.balances.resolved == 1
    assert booked.exceptions("stmt-balance") == []


def test_a_statement_kept_twice_is_one_statement(booked: Register) -> None:
    statement(booked, "ST-X", "0", "2026-11-24", [])
    statement(booked, "ST-X", "0", "2026-11-24", [])
    assert [s.statement_key for s in booked.statements("demo")] == ["ST-X"]

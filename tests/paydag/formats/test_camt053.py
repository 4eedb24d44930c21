"""camt.053 statements: balances and entries read, the balance identity held."""

from __future__ import annotations

import pytest

from paydag.formats.camt053 import parse_camt053
from paydag.formats.classify import FileKind, classify
from paydag.formats.xml import FormatError
from tests.conftest import FIXTURES

STATEMENT = FIXTURES / "camt053" / "paydag_camt.053.001.08_statement.xml"
BROKEN = FIXTURES / "camt053" / "paydag_camt.053.001.08_broken_balance.xml"


def test_a_statement_is_classified_by_its_content() -> None:
    found = classify(STATEMENT.read_bytes(), "renamed.bin")
    assert (found.kind, found.label, found.warnings) == (FileKind.CAMT053, "camt.053.001.08", ())


def test_balances_and_entries() -> None:
    report = parse_camt053(STATEMENT.read_bytes(), STATEMENT.name)
    [s] = report.statements
    assert (report.version, report.msg_id, s.id, s.account, s.currency) == (
        "08", "STMT-20261125", "STMT-20261125-1", "SE4550000000058398257466", "SEK",
    )  # fmt: skip
    assert (s.opening_minor, s.credits_minor, s.debits_minor, s.closing_minor) == (
        25000000,
        1757050,
        2557550,
        24199500,
    )
    assert s.difference_minor == 0
    assert [
        (t.entry, t.credit_debit, t.amount_minor, t.ocr or t.end_to_end_id) for t in report.transactions
    ] == [
        (1, "CRDT", 845000, "12345682"),
        (1, "CRDT", 912050, "98765439"),
        (2, "DBIT", 1845000, "INV-1001"),
        (2, "DBIT", 712550, "INV-1002"),
    ]
    assert {t.batch_msg_id for t in report.transactions if t.credit_debit == "DBIT"} == {
        "PAYDAG-DEMO-20261120-0001"
    }


def test_a_statement_that_does_not_add_up_is_refused_with_the_difference() -> None:
    with pytest.raises(
        FormatError,
        match=r"Stmt #1 \(STMT-20261125-1\) does not add up: .*difference -10000 minor units of SEK",
    ):
        parse_camt053(BROKEN.read_bytes(), BROKEN.name)

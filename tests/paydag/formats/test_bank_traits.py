"""Ordinary traits of real bank files, each in a file of our own (tests/fixtures/): read with every fact
a person reads off them, and a warning wherever the file is not what the standard says."""

from __future__ import annotations

import pytest

from paydag.formats.camt054 import parse_camt054
from paydag.formats.classify import FileKind, classify
from paydag.formats.pain002 import parse_pain002
from tests.conftest import FIXTURES

PAIN002 = FIXTURES / "pain002"
CAMT054 = FIXTURES / "camt054"
STANDARD = parse_pain002((PAIN002 / "paydag_pain.002.001.03_txn_reject.xml").read_bytes())


@pytest.mark.parametrize(
    ("name", "version", "warning"),
    [
        ("paydag_pain.002_no_namespace.xml", None, "the root has no namespace: read by its element names"),
        ("paydag_pain.002_misspelt_xmlns.xml", None, "declares its namespace as Xmlns="),
        ("paydag_pain.002.001.03.ch.02_variant.xml", "03", "a national variant's namespace"),
        (
            "paydag_pain.002.001.15_newer.xml",
            "15",
            "newer than the versions paydag knows: read with the layout of .14",
        ),
    ],
)
def test_a_status_report_is_read_whatever_its_namespace_says(
    name: str, version: str | None, warning: str
) -> None:
    data = (PAIN002 / name).read_bytes()
    found = classify(data, name)
    assert (found.kind, found.version) == (FileKind.PAIN002, version)
    [said] = found.warnings
    assert said.startswith(f"{name}: ") and warning in said
    report = parse_pain002(data, name)
    assert report.rows() == STANDARD.rows()  # every status and reason as in the standard file


def test_the_standard_file_has_no_warnings() -> None:
    assert classify((PAIN002 / "paydag_pain.002.001.03_txn_reject.xml").read_bytes()).warnings == ()


def test_a_notification_without_a_namespace_is_read_by_its_element_names() -> None:
    data = (CAMT054 / "paydag_camt.054_no_namespace.xml").read_bytes()
    found = classify(data, "n.xml")
    assert (found.kind, found.has_credit) == (FileKind.CAMT054, True)
    assert "no namespace" in found.warnings[0]
    ours = parse_camt054(data).transactions
    standard = parse_camt054((CAMT054 / "paydag_camt.054.001.02_credit.xml").read_bytes()).transactions
    assert [(t.ocr, t.amount_minor) for t in ours] == [(t.ocr, t.amount_minor) for t in standard]


@pytest.fixture(scope="module")
def traits() -> list:
    return parse_camt054(
        (CAMT054 / "paydag_camt.054.001.02_real_traits.xml").read_bytes(), "traits.xml"
    ).transactions


def test_a_transaction_without_an_amount_takes_its_entrys(traits: list) -> None:
    first = traits[0]
    assert (first.entry, first.amount_minor, first.amount_source, first.entry_amount_minor) == (
        1,
        845000,
        "entry",
        845000,
    )


def test_transactions_listed_without_amounts_carry_the_entry_total_marked(traits: list) -> None:
    listed = [t for t in traits if t.entry == 2]
    assert [(t.transaction, t.amount_minor, t.amount_source) for t in listed] == [
        (1, 300000, "entry total"),
        (2, 300000, "entry total"),
        (3, 300000, "entry total"),
    ]
    assert [t.free_text for t in listed] == ["Hyra 1101", "Hyra 1102", "Hyra 1103"]


def test_an_amount_of_zero_beside_the_entrys_is_a_warning_and_the_entry_amount_is_kept(traits: list) -> None:
    [zero] = [t for t in traits if t.entry == 3]
    assert (zero.amount_minor, zero.entry_amount_minor) == (0, 10567850)
    assert (
        zero.warning
        == "traits.xml: Ntry #3 TxDtls #1: Amt 0 while the entry says 10567850 minor units of SEK"
    )
    assert all(t.warning is None for t in traits if t.entry != 3)


def test_every_reference_with_its_type_trimmed(traits: list) -> None:
    [net] = [t for t in traits if t.entry == 4]
    assert net.references == ("SCOR:98765439", "OCR:55555551")
    assert net.ocr == "98765439"
    assert traits[0].references == ("SCOR:12345682",)
    assert all(
        t.entry_acct_svcr_ref == f"TR-{t.entry}" for t in traits
    )  # every row carries its entry's reference


@pytest.mark.parametrize(
    "name",
    [
        "paydag_camt.054.001.02_utf16.xml",
        "paydag_camt.054.001.02_latin1.xml",
        "paydag_camt.054.001.02_bom_cr.xml",
    ],
)
def test_any_declared_encoding_line_end_bom_comment_and_processing_instruction(name: str) -> None:
    data = (CAMT054 / name).read_bytes()
    assert classify(data, name).kind is FileKind.CAMT054
    report = parse_camt054(data, name)
    assert [(t.ocr, t.amount_minor) for t in report.transactions] == [
        ("12345682", 845000),
        ("98765439", 912050),
        (None, 50000),
    ]
    assert report.transactions[0].payer_name == "Åsa Öberg"  # the letters decoded as the file declares

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from paydag.formats.classify import FileKind, classify
from sandbox.bankfiles import BankEntry, BankTransaction, camt054
from tests.conftest import FIXTURES


def entry(cd: str) -> BankEntry:
    return BankEntry(
        cd, "2026-11-25", f"R-{cd}", (BankTransaction(Decimal("10.00"), "SEK", end_to_end_id="E"),)
    )


@pytest.mark.parametrize(
    ("folder", "name", "kind", "label"),
    [
        ("pain002", "nordea_pain.002.001.03_group_reject.xml", FileKind.PAIN002, "pain.002.001.03"),
        ("camt054", "postfinance_camt.054.001.04_debit.xml", FileKind.CAMT054, "camt.054.001.04 (debit)"),
        ("camt054", "postfinance_camt.054.001.04_credit.xml", FileKind.CAMT054, "camt.054.001.04 (credit)"),
        (
            "pain001",
            "pain001lib_se.bankgiro.supplier.pain.001.001.03.xml",
            FileKind.PAIN001,
            "pain.001.001.03",
        ),
        ("settlement", "swedbankpay_v2_optionA_R1234-0001.xml", FileKind.SETTLEMENT, "settlement"),
        ("settlement", "swedbankpay_v1_optionB_R1005-0001.xml", FileKind.SETTLEMENT, "settlement"),
    ],
)
def test_genuine_files_are_classified_by_content(
    shared_fixtures: Path, folder: str, name: str, kind: FileKind, label: str
) -> None:
    found = classify((shared_fixtures / folder / name).read_bytes(), "renamed.bin")
    assert (found.kind, found.label) == (kind, label)


@pytest.mark.parametrize(
    ("folder", "name", "kind", "label"),
    [
        ("pain002", "paydag_pain.002.001.03_txn_reject.xml", FileKind.PAIN002, "pain.002.001.03"),
        ("pain002", "paydag_pain.002.001.10_group_accept.xml", FileKind.PAIN002, "pain.002.001.10"),
        ("camt054", "paydag_camt.054.001.02_credit.xml", FileKind.CAMT054, "camt.054.001.02 (credit)"),
        ("camt054", "paydag_camt.054.001.04_debit.xml", FileKind.CAMT054, "camt.054.001.04 (debit)"),
        ("camt054", "paydag_camt.054.001.08_credit.xml", FileKind.CAMT054, "camt.054.001.08 (credit)"),
        ("settlement", "paydag_v1_R9001-0001.xml", FileKind.SETTLEMENT, "settlement"),
        ("settlement", "paydag_v2_R9002-0001.xml", FileKind.SETTLEMENT, "settlement"),
    ],
)
def test_our_files_are_classified_by_content(folder: str, name: str, kind: FileKind, label: str) -> None:
    found = classify((FIXTURES / folder / name).read_bytes(), "renamed.bin")
    assert (found.kind, found.label) == (kind, label)


def test_a_camt054_with_both_sides_is_split() -> None:
    data = camt054(
        version="08",
        msg_id="M",
        created="2026-11-25T06:00:00",
        account_iban="SE6780000832791234567890",
        entries=[entry("CRDT"), entry("DBIT")],
    )
    found = classify(data)
    assert (found.has_credit, found.has_debit, found.label) == (
        True,
        True,
        "camt.054.001.08 (credit + debit)",
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"%PDF-1.7 binary", "not XML"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08"/>',
            "camt.052.001.08 is no message we read",
        ),
        (b"<html><body/></html>", "root 'html'"),
    ],
)
def test_unknown_files_say_why(data: bytes, reason: str) -> None:
    found = classify(data, "x.xml")
    assert found.kind is FileKind.UNKNOWN and reason in found.reason

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from paydag.formats.camt054 import iter_camt054, parse_camt054
from paydag.formats.xml import FormatError
from sandbox.bankfiles import BankEntry, BankTransaction, camt054
from tests.conftest import FIXTURES


def test_debit_fixture(shared_fixtures: Path) -> None:
    report = parse_camt054(
        (shared_fixtures / "camt054" / "postfinance_camt.054.001.04_debit.xml").read_bytes()
    )
    assert report.header.version == "04"
    [tx] = report.transactions
    assert (tx.credit_debit, tx.amount_minor, tx.currency, tx.status) == ("DBIT", 91300, "CHF", "BOOK")
    assert (tx.msg_id, tx.pmt_inf_id, tx.end_to_end_id) == (
        "20190424-000369773",
        "30003101",
        "20190424001255000100006",
    )
    assert (tx.acct_svcr_ref, tx.entry_acct_svcr_ref) == ("25-1120172999-2", "074820002ZU1EQ0K")
    assert tx.bank_transaction_code == "PMNT/ICDT/AUTT" and tx.booking_date == "2019-04-25"


def test_credit_fixture_without_ocr_or_payer(shared_fixtures: Path) -> None:
    report = parse_camt054(
        (shared_fixtures / "camt054" / "postfinance_camt.054.001.04_credit.xml").read_bytes()
    )
    [tx] = report.credit
    assert (tx.amount_minor, tx.ocr, tx.payer_name, tx.acct_svcr_ref) == (
        150000,
        None,
        None,
        "074820002ZZ9J42U",
    )
    assert "SAMMELGUTSCHRIFT" in tx.free_text


def deposit(n: int = 3) -> BankEntry:
    return BankEntry(
        credit_debit="CRDT",
        booking_date="2026-11-25",
        acct_svcr_ref="BG-DEP-1",
        family="RCDT",
        sub_family="DMCT",
        transactions=tuple(
            BankTransaction(
                amount=Decimal("8450.00") + i,
                currency="SEK",
                acct_svcr_ref=f"BGC-{i}",
                end_to_end_id="NOTPROVIDED",
                ocr=f"10000{i}",
                payer_name=f"Hyresgäst {i}",
                payer_account="SE4550000000058398257466",
                creditor_account="50501055",
            )
            for i in range(n)
        ),
    )


def executed(e2e: str = "INV-1", amount: str = "18450.00") -> BankEntry:
    return BankEntry(
        credit_debit="DBIT",
        booking_date="2026-11-24",
        acct_svcr_ref="EXE-1",
        batch_msg_id="PDABC",
        batch_pmt_inf_id="PDABC-001",
        transactions=(
            BankTransaction(
                Decimal(amount),
                "SEK",
                msg_id="PDABC",
                pmt_inf_id="PDABC-001",
                end_to_end_id=e2e,
                uetr="3f1b0c1e-6f1a-4d2b-9c6e-0a1b2c3d4e5f",
                creditor_name="Sågverk Öster AB",
            ),
        ),
    )


def instance(version: str) -> bytes:
    """A notification as the sandbox's bank writes it: three deposits and one executed payment."""
    return camt054(
        version=version,
        msg_id="N1",
        created="2026-11-25T06:00:00",
        account_iban="SE6780000832791234567890",
        entries=[deposit(), executed()],
    )


@pytest.mark.parametrize("version", ["02", "04", "08"])
def test_the_sandbox_writes_xsd_valid_instances(version: str, shared_fixtures: Path) -> None:
    schema = etree.XMLSchema(etree.parse(str(shared_fixtures / "xsd" / f"camt.054.001.{version}.xsd")))
    schema.assertValid(etree.fromstring(instance(version)))


@pytest.mark.parametrize(
    ("name", "credit", "debit"),
    [
        ("paydag_camt.054.001.02_credit.xml", 3, 0),
        ("paydag_camt.054.001.04_debit.xml", 0, 2),
        ("paydag_camt.054.001.08_credit.xml", 3, 0),
    ],
)
def test_our_notifications(name: str, credit: int, debit: int) -> None:
    report = parse_camt054((FIXTURES / "camt054" / name).read_bytes(), name)
    assert report.header.version == name.split(".")[3][:2]
    assert (len(report.credit), len(report.debit)) == (credit, debit)
    if credit:
        assert [(t.ocr, t.amount_minor) for t in report.credit] == [
            ("12345682", 845000),
            ("98765439", 912050),
            (None, 50000),
        ]
        assert report.credit[0].payer_name == "Anna Andersson"
    else:
        assert [(t.end_to_end_id, t.batch_msg_id, t.creditor_name) for t in report.debit] == [
            ("INV-1001", "PAYDAG-DEMO-20261120-0001", "Sågverk Öster AB"),
            ("INV-1004", "PAYDAG-DEMO-20261120-0001", "Städbolaget i Umeå AB"),
        ]


@pytest.mark.parametrize("version", ["02", "04", "08"])
def test_instances_of_every_version(version: str) -> None:
    report = parse_camt054(instance(version), f"v{version}.xml")
    assert report.header.version == version
    assert len(report.credit) == 3 and len(report.debit) == 1  # one row per TxDtls, not per entry
    first = report.credit[0]
    assert (first.entry, first.transaction, first.amount_minor, first.ocr) == (1, 1, 845000, "100000")
    assert (first.payer_name, first.payer_account, first.creditor_account) == (
        "Hyresgäst 0",
        "SE4550000000058398257466",
        "50501055",
    )
    assert first.account == "SE6780000832791234567890"
    debit = report.debit[0]
    assert (debit.end_to_end_id, debit.batch_msg_id, debit.batch_pmt_inf_id, debit.batch_nb_of_txs) == (
        "INV-1",
        "PDABC",
        "PDABC-001",
        1,
    )
    assert debit.uetr == ("3f1b0c1e-6f1a-4d2b-9c6e-0a1b2c3d4e5f" if version == "08" else None)
    assert debit.creditor_name == "Sågverk Öster AB"
    assert debit.status == "BOOK"


def test_returned_payment_carries_its_reason() -> None:
    entry = BankEntry(
        credit_debit="CRDT",
        booking_date="2026-11-26",
        acct_svcr_ref="RET-1",
        reversal=True,
        transactions=(
            BankTransaction(Decimal("18450.00"), "SEK", end_to_end_id="INV-1", return_reason="AC04"),
        ),
    )
    [tx] = parse_camt054(
        camt054(
            version="02",
            msg_id="R",
            created="2026-11-26T06:00:00",
            account_iban="SE6780000832791234567890",
            entries=[entry],
        )
    ).transactions
    assert (tx.return_reason, tx.reversal, tx.credit_debit) == ("AC04", True, "CRDT")


def test_streams_without_holding_the_file() -> None:
    entries = (executed(f"INV-{i}") for i in range(2000))
    data = camt054(
        version="08",
        msg_id="BIG",
        created="2026-11-25T06:00:00",
        account_iban="SE6780000832791234567890",
        entries=entries,
    )
    rows = [t for t in iter_camt054(io.BytesIO(data), "big.xml") if not hasattr(t, "version")]
    assert len(rows) == 2000 and rows[-1].end_to_end_id == "INV-1999"


def last(old: bytes, new: bytes):
    """Replace the last occurrence: the transaction's value, not its entry's."""
    return lambda d: new.join(d.rsplit(old, 1))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (
            last(b"<CdtDbtInd>DBIT</CdtDbtInd><RvslInd>", b"<CdtDbtInd>XXXX</CdtDbtInd><RvslInd>"),
            "Ntry #1: CdtDbtInd 'XXXX'",
        ),
        (
            last(b'Ccy="SEK">18450.00', b'Ccy="SEK">18,450'),
            "Ntry #1 TxDtls #1 Amt: '18,450' is not an amount",
        ),
        (last(b'Ccy="SEK"', b'Ccy=""'), "Ntry #1 TxDtls #1 Amt: currency"),
        (lambda d: d[: len(d) // 2], "not well-formed"),
    ],
)
def test_bad_values_name_the_entry(mutate, reason: str) -> None:
    data = camt054(
        version="04",
        msg_id="N",
        created="2026-11-25T06:00:00",
        account_iban="SE6780000832791234567890",
        entries=[executed()],
    )
    with pytest.raises(FormatError, match=reason):
        parse_camt054(mutate(data), "bank.xml")


def test_hardened_against_entities() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY big "boom">]><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.04"><BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>&big;</MsgId></GrpHdr></BkToCstmrDbtCdtNtfctn></Document>'
    with pytest.raises(FormatError, match="DOCTYPE"):
        parse_camt054(data, "evil.xml")

"""The Arrow reader gives the lxml reader's rows, and declines what it cannot read faithfully."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

from paydag.formats.camt054 import parse_camt054
from paydag.formats.camt054.arrow_reader import read_arrow
from paydag.formats.camt054.lxml_reader import iter_camt054 as iter_lxml
from paydag.formats.columnar import CannotServe
from paydag.formats.xml import FormatError
from sandbox.bankfiles import BankEntry, BankTransaction, camt054
from tests.conftest import FIXTURES

IBAN = "SE6780000832791234567890"


def by_lxml(data: bytes, name: str = "bank.xml") -> list:
    return list(iter_lxml(io.BytesIO(data), name))


def by_arrow(data: bytes, name: str = "bank.xml") -> list:
    header, rows = read_arrow(data, name)
    return [header, *rows]


def mixed(version: str, count: int = 300) -> bytes:
    """Deposits of several incoming payments, executed batches, an entry without details, a payment in
    yen, one in dinar, a returned payment: every shape the rules tell apart."""

    def entries():
        for n in range(0, count, 5):
            yield BankEntry("CRDT", "2026-11-25", f"DEP{n}", tuple(
                BankTransaction(Decimal(800 + i) + Decimal("0.50"), "SEK", acct_svcr_ref=f"BGC{n + i}",
                                ocr=f"{100000 + n + i}", payer_name=f"Hyresgäst {n + i}",
                                payer_account="SE4550000000058398257466", creditor_account="50501055")
                for i in range(5)
            ), family="RCDT")  # fmt: skip
            yield BankEntry("DBIT", "2026-11-24", f"EXE{n}", (
                BankTransaction(Decimal(1000 + n), "SEK", msg_id="PDX", pmt_inf_id="PDX-001",
                                end_to_end_id=f"INV-{n}", creditor_name="Sågverk Öster AB"),
            ), batch_msg_id="PDX", batch_pmt_inf_id="PDX-001")  # fmt: skip
        yield BankEntry(
            "CRDT", "2026-11-26", "JPY-1", (BankTransaction(Decimal("1200"), "JPY", end_to_end_id="J"),)
        )
        yield BankEntry(
            "CRDT", "2026-11-26", "KWD-1", (BankTransaction(Decimal("1.250"), "KWD", end_to_end_id="K"),)
        )
        yield BankEntry("CRDT", "2026-11-26", "RET-1", (
            BankTransaction(Decimal("18450.00"), "SEK", end_to_end_id="INV-1", return_reason="AC04"),
        ), reversal=True)  # fmt: skip

    return camt054(version=version, msg_id="MIX", created="2026-11-26T06:00:00", account_iban=IBAN,
                   entries=entries())  # fmt: skip


@pytest.mark.parametrize("version", ["02", "04", "08"])
def test_the_readers_give_the_same_rows_for_every_version(version: str) -> None:
    data = mixed(version)
    rows = by_arrow(data)
    assert rows == by_lxml(data) and len(rows) == 1 + 300 + 60 + 3  # header, deposits, batches, the three
    assert {r.amount_source for r in rows[1:]} == {"transaction"}
    assert {r.currency for r in rows[1:]} == {"SEK", "JPY", "KWD"}


@pytest.mark.parametrize("path", sorted((FIXTURES / "camt054").glob("*.xml")), ids=lambda p: p.stem)
def test_the_readers_give_the_same_rows_for_our_fixtures(path: Path) -> None:
    """Our fixtures carry the traits real banks send: entry totals, an amount on the entry only, a
    reference in two Strd, a comment, Latin-1, UTF-16, a BOM and CR line ends, no namespace."""
    data = path.read_bytes()
    assert by_arrow(data, path.name) == by_lxml(data, path.name)


def test_genuine_notifications_are_read_by_the_arrow_reader(shared_fixtures: Path) -> None:
    for path in sorted((shared_fixtures / "camt054").glob("*.xml")):
        data = path.read_bytes()
        assert by_arrow(data, path.name) == by_lxml(data, path.name), path.name


def test_an_entry_without_details_stands_in_its_place() -> None:
    data = mixed("04", count=10)
    alone = (
        '<Ntry><Amt Ccy="SEK">5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-26</Dt>'
        "</BookgDt><AcctSvcrRef>ALONE</AcctSvcrRef><BkTxCd><Prtry><Cd>X</Cd></Prtry></BkTxCd>"
        "<AddtlNtryInf>Ränta</AddtlNtryInf></Ntry>"
    ).encode()
    at = data.index(b"<Ntry>", data.index(b"<Ntry>") + 1)
    data = data[:at] + alone + data[at:]
    rows = by_arrow(data)
    assert rows == by_lxml(data)
    [row] = [r for r in rows[1:] if r.entry_acct_svcr_ref == "ALONE"]
    assert (row.entry, row.amount_source, row.free_text, row.bank_transaction_code) == (
        2,
        "entry",
        "Ränta",
        "X",
    )


def test_each_notification_keeps_its_account() -> None:
    data = mixed("02", count=5)
    second = data[data.index(b"<Ntfctn>") : data.index(b"</Ntfctn>") + len(b"</Ntfctn>")]
    other = second.replace(IBAN.encode(), b"SE3550000000054910000003")
    data = data.replace(b"</Ntfctn>", b"</Ntfctn>" + other, 1)
    rows = by_arrow(data)
    assert rows == by_lxml(data)
    assert [r.account for r in rows[1:]].count("SE3550000000054910000003") == len(rows[1:]) // 2


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (
            (
                b"</NtryDtls>",
                b"</NtryDtls><NtryDtls><TxDtls><Refs><EndToEndId>X</EndToEndId></Refs>"
                b'<AmtDtls><TxAmt><Amt Ccy="SEK">1.00</Amt></TxAmt></AmtDtls></TxDtls></NtryDtls>',
            ),
            "not numbered in one run|more than once",
        ),
        ((b"<EndToEndId>", b"<EndToEndId>A</EndToEndId><EndToEndId>"), "more than once"),
        ((b"</Document>", b"</Document><!-- signed -->"), "does not end with the Document"),
    ],
    ids=["two NtryDtls", "two EndToEndId", "a comment after the root"],
)
def test_what_the_arrow_reader_cannot_serve_goes_to_lxml(change: tuple[bytes, bytes], why: str) -> None:
    data = (
        mixed("02", count=10)
        .replace(b"<RmtInf><Strd>", b"<RmtInf><Ustrd>x</Ustrd><Strd>", 1)
        .replace(*change, 1)
    )
    with pytest.raises(CannotServe, match=why):
        read_arrow(data, "bank.xml")
    report = parse_camt054(data, "bank.xml")
    assert [report.header, *report.transactions] == by_lxml(data)


def test_every_ustrd_and_every_reference_is_kept_in_order() -> None:
    data = mixed("04", count=10).replace(
        b"<RmtInf><Strd>", b"<RmtInf><Ustrd>a</Ustrd><Ustrd>b</Ustrd><Strd>", 1
    )
    rows = by_arrow(data)
    assert rows == by_lxml(data) and rows[1].free_text == "a b"


def test_a_notification_cut_off_fails() -> None:
    data = mixed("04", count=10)
    cut = data[: data.rindex(b"</Ntry>") + len(b"</Ntry>")]
    with pytest.raises(CannotServe, match="does not end with the Document"):
        read_arrow(cut, "bank.xml")
    with pytest.raises(FormatError, match=r"bank\.xml: not well-formed XML"):
        parse_camt054(cut, "bank.xml")


def test_a_doctype_is_refused_before_anything_is_read() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "y">]>' + mixed("04", count=5).split(b"?>", 1)[1]
    with pytest.raises(FormatError, match=r"bank\.xml: a DOCTYPE is not accepted"):
        read_arrow(data, "bank.xml")


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b"<CdtDbtInd>DBIT</CdtDbtInd>", b"<CdtDbtInd>XXXX</CdtDbtInd>", "Ntry #2: CdtDbtInd 'XXXX'"),
        (b'Ccy="SEK">1000.00', b'Ccy="SEK">1,000', r"Ntry #2/Amt: .1,000. is not an amount"),
        (b'<Amt Ccy="SEK">800.50</Amt>', b"", r"Ntry #1 TxDtls #1 Amt: the amount is missing"),
    ],
)
def test_bad_values_get_the_lxml_readers_message(old: bytes, new: bytes, reason: str) -> None:
    data = mixed("08", count=10).replace(old, new, 1)
    with pytest.raises(FormatError, match=reason) as fast:
        read_arrow(data, "bank.xml")
    with pytest.raises(FormatError) as slow:
        by_lxml(data)
    assert str(fast.value) == str(slow.value)

from __future__ import annotations

from pathlib import Path

import pytest

from paydag.formats.settlement import parse_settlement
from paydag.formats.xml import FormatError
from tests.conftest import SETTLEMENT_V1, SETTLEMENT_V2

V1 = "swedbankpay_v1_optionB_R1005-0001.xml"
V2 = "swedbankpay_v2_optionA_R1234-0001.xml"


def test_our_v2_report() -> None:
    report = parse_settlement(SETTLEMENT_V2.read_bytes(), SETTLEMENT_V2.name)
    rows = report.rows
    assert (report.version, report.accounting_no, report.total_transactions) == ("2", "R9002-0001", 12)
    assert report.currency_sums_minor == {"SEK": 1897800} and int(rows["amount_minor"].sum()) == 1897800
    assert str(rows["amount_minor"].dtype) == "Int64" and str(rows["date_created"].dtype).startswith(
        "datetime64"
    )
    [credit] = rows[rows["is_credit"]].itertuples()
    assert (credit.transaction_no, credit.amount_minor, credit.referenced_transaction) == (
        "20000000109",
        -24500,
        "20000000106",
    )
    assert rows["vat_minor"].notna().sum() == 11  # VAT on every row but the credit
    swish = rows[rows["service"] == "Swish"].iloc[0]
    assert (swish.service_type, swish.summary_debit_count, swish.summary_credit_count) == (
        "Direct debit",
        5,
        1,
    )
    assert {s.service for s in report.summary} == {
        "Consumer Credit Card EU",
        "Consumer Debit Card EU",
        "Swish",
        "Faktura SE",
    }


def test_our_v1_report_with_crlf_and_a_reversal() -> None:
    data = SETTLEMENT_V1.read_bytes()
    assert b"\r\n" in data
    report = parse_settlement(data, SETTLEMENT_V1.name)
    rows = report.rows
    assert (report.version, report.accounting_no, len(rows)) == ("1", "R9001-0001", 10)
    assert report.currency_sums_minor == {"SEK": 4526400} and int(rows["amount_minor"].sum()) == 4526400
    pair = rows[rows["order_id"] == "HY-100205"].sort_values("amount_minor")
    assert list(pair["amount_minor"]) == [-1250000, 1250000]
    assert pair.iloc[0]["referenced_transaction"] == pair.iloc[1]["transaction_no"]
    assert set(rows["currency"]) == {"SEK"}  # v1 rows take their currency from their CURRENCY parent


def fixture(shared_fixtures: Path, name: str) -> bytes:
    return (shared_fixtures / "settlement" / name).read_bytes()


def test_genuine_v2_report(shared_fixtures: Path) -> None:
    report = parse_settlement(fixture(shared_fixtures, V2), V2)
    rows = report.rows
    assert (report.version, report.accounting_no, report.total_transactions) == ("2", "R1234-0001", 134)
    assert report.currency_sums_minor == {"SEK": 12495000}
    assert len(rows) == 134 and int(rows["amount_minor"].sum()) == 12495000
    assert str(rows["amount_minor"].dtype) == "Int64" and str(rows["transaction_no"].dtype).startswith(
        "string"
    )
    assert str(rows["date_created"].dtype).startswith("datetime64")
    [credit] = rows[rows["is_credit"]].itertuples()
    assert (credit.transaction_no, credit.amount_minor, credit.referenced_transaction) == (
        "14226339824",
        -89000,
        "14223384846",
    )
    assert rows["vat_minor"].notna().sum() == 133  # VAT on every row but the credit
    swish = rows[rows["service"] == "Swish"].iloc[0]
    assert (swish.service_type, swish.summary_debit_count, swish.summary_credit_count) == (
        "Direct debit",
        99,
        1,
    )
    assert {s.service for s in report.summary} == {
        "Consumer Credit Card EU",
        "Consumer Debit Card EU",
        "Swish",
        "Faktura SE",
    }


def test_genuine_v1_report_with_crlf_and_its_reversal(shared_fixtures: Path) -> None:
    data = fixture(shared_fixtures, V1)
    assert b"\r\n" in data
    report = parse_settlement(data, V1)
    rows = report.rows
    assert (report.version, report.accounting_no, len(rows)) == ("1", "R1005-0001", 207)
    assert report.currency_sums_minor == {"SEK": 16368800} and int(rows["amount_minor"].sum()) == 16368800
    pair = rows[rows["order_id"] == "CB2-XASE41"].sort_values("amount_minor")
    assert list(pair["amount_minor"]) == [-409400, 409400]
    assert pair.iloc[0]["referenced_transaction"] == pair.iloc[1]["transaction_no"]
    assert set(rows["currency"]) == {"SEK"}  # v1 rows take their currency from their CURRENCY parent


def test_identifiers_keep_leading_zeros() -> None:
    data = (
        b'<SalesAccountedTransactions xmlns="http://www.payex.com/xml/SalesAccountedTransactions%5B2.0%5D.xsd" '
        b'AccountingNo="R1-0001" TotalNoOfTransactions="1" Version="2.0"><Summary Subsite=""><Currency Currency="SEK">'
        b'<ServiceType ServiceType="Direct debit"><Service ServiceName="Swish" NoOfDebit="1" NoOfCredit="0" Amount="10.00" '
        b'FromDate="2026-11-01" ToDate="2026-11-30"/></ServiceType></Currency></Summary><Currency Sum="10.00" Currency="SEK">'
        b'<Transaction PayexTransactionNo="00012345678" ExternalTransactionReference="0007E1A" Amount="10.00" Currency="SEK" '
        b'DateCreated="2026-11-02 10:00:00" DateModified="2026-11-02 10:00:05" ServiceName="Swish" NewAttribute="kept"/>'
        b"</Currency></SalesAccountedTransactions>"
    )
    row = parse_settlement(data).rows.iloc[0]
    assert (row.transaction_no, row.external_reference, row.NewAttribute) == (
        "00012345678",
        "0007E1A",
        "kept",
    )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: b"", "empty"),
        (lambda d: b"PK\x03\x04" + d, "XLSX"),
        (lambda d: d[: len(d) // 2], "not well-formed"),
        (lambda d: b"this is not xml", "not well-formed"),
        (lambda d: d.replace(b"SalesAccountedTransactions", b"Other"), "not a Swedbank Pay transaction list"),
        (lambda d: d.replace(b"%5B2.0%5D", b"[2.0]"), "not a Swedbank Pay transaction list"),
        (lambda d: d.replace(b"Hyra", b"H\xe4ra", 1), "not well-formed|UTF-8"),
        (
            lambda d: d.replace(b'Sum="18978.00"', b'Sum="18978"'),
            "@Sum: '18978' is not an amount with two decimals",
        ),
        (lambda d: b'<!DOCTYPE x [<!ENTITY e "y">]>' + d.split(b"?>", 1)[1], "DOCTYPE"),
    ],
)
def test_unreadable_inputs_say_why(mutate, reason: str) -> None:
    with pytest.raises(FormatError, match=reason) as caught:
        parse_settlement(mutate(SETTLEMENT_V2.read_bytes()), "report.xml")
    assert str(caught.value).startswith("report.xml")


def test_streams_from_a_file() -> None:
    with SETTLEMENT_V1.open("rb") as f:
        assert len(parse_settlement(f, SETTLEMENT_V1.name).rows) == 10

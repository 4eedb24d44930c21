"""Typing a report's rows: money as exact minor units, or empty and reported, never rounded."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from paydag.formats.settlement import parse_settlement
from paydag.validation import validate_settlement
from tests.conftest import SETTLEMENT_V2


def test_an_amount_too_long_for_minor_units_is_left_empty_and_fails_validation() -> None:
    data = SETTLEMENT_V2.read_bytes().replace(b'Amount="1295.00"', b'Amount="12345678901234567.00"', 1)
    report = parse_settlement(data, "long.xml")
    row = report.rows.set_index("transaction_no").loc["20000000101"]
    assert row["amount_text"] == "12345678901234567.00" and pd.isna(row["amount_minor"])
    assert report.rows["amount_minor"].isna().sum() == 1  # the other rows keep theirs
    failed = {(c.expectation, c.column): c for c in validate_settlement(report).failed}
    check = failed[("expect_column_values_to_not_be_null", "amount_minor")]
    assert check.first_unexpected == ("20000000101",)


def test_amounts_are_exact_minor_units_with_credits_negative() -> None:
    rows = parse_settlement(SETTLEMENT_V2.read_bytes(), SETTLEMENT_V2.name).rows.set_index("transaction_no")
    assert (rows.loc["20000000101", "amount_minor"], rows.loc["20000000109", "amount_minor"]) == (
        129500,
        -24500,
    )
    assert str(rows["amount_minor"].dtype) == "Int64" and str(rows["vat_minor"].dtype) == "Int64"


def test_text_stays_arrow_strings_with_32_bit_offsets_and_absent_columns_are_empty() -> None:
    rows = parse_settlement(SETTLEMENT_V2.read_bytes(), SETTLEMENT_V2.name).rows
    for column in ("transaction_no", "service", "currency", "service_type", "brand"):
        assert rows[column].dtype == pd.ArrowDtype(pa.string()), column  # not large_string: half the offsets
    assert rows["brand"].isna().all()  # v2 reports carry no Brand: the column is there, empty
    assert rows.loc[rows["transaction_no"] == "20000000101", "service"].tolist() == [
        "Consumer Credit Card EU"
    ]

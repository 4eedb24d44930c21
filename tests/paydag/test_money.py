from __future__ import annotations

from decimal import Decimal

import pytest

from paydag import money


@pytest.mark.parametrize("code", ["SEK", "EUR", "USD", "JPY", "KWD"])
def test_currency_codes(code: str) -> None:
    assert money.is_currency(code)


@pytest.mark.parametrize("code", ["sek", "SEKK", "XXX", "XAU", "ABC", ""])
def test_not_currency_codes(code: str) -> None:
    assert not money.is_currency(code)


def test_parse_amount_is_exact() -> None:
    assert money.parse_amount("1234.50") == Decimal("1234.50")
    assert money.parse_amount("0.10") + money.parse_amount("0.20") == Decimal("0.30")


@pytest.mark.parametrize("text", ["1 234.50", "1234,50", "-5.00", "1e3", "", ".", "1.2.3", "NaN"])
def test_parse_amount_rejects(text: str) -> None:
    with pytest.raises(money.InvalidAmount):
        money.parse_amount(text)


def test_payable_amount_rules() -> None:
    money.check_payable_amount(Decimal("100.10"), "SEK")
    money.check_payable_amount(Decimal("100.000"), "SEK")  # trailing zeros are not decimals
    money.check_payable_amount(Decimal("100"), "JPY")
    with pytest.raises(money.InvalidAmount, match="at most 2"):
        money.check_payable_amount(Decimal("1.001"), "SEK")
    with pytest.raises(money.InvalidAmount, match="at most 0"):
        money.check_payable_amount(Decimal("100.5"), "JPY")
    with pytest.raises(money.InvalidAmount, match="greater than zero"):
        money.check_payable_amount(Decimal("0.00"), "SEK")


def test_minor_units_and_format() -> None:
    assert money.to_minor(Decimal("124950.00"), "SEK") == 12495000
    assert money.to_minor(Decimal("500"), "JPY") == 500
    assert money.to_minor(Decimal("1.234"), "KWD") == 1234
    with pytest.raises(money.InvalidAmount):
        money.to_minor(Decimal("1.005"), "SEK")
    assert money.format_amount(Decimal("7125.5"), "SEK") == "7125.50"
    assert money.format_amount(Decimal("500"), "JPY") == "500"


def test_currency_codes_are_the_payable_ones() -> None:
    codes = money.currency_codes()
    assert {"SEK", "EUR", "JPY", "KWD"} <= set(codes)
    assert "XAU" not in codes and "SKR" not in codes

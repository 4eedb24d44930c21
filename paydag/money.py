"""Money: ISO 4217 currency codes, minor units, exact Decimal amounts. Never a float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pycountry

# ISO 4217 minor units that differ from 2. The rest of the active codes use 2.
_MINOR_UNIT_EXCEPTIONS: dict[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    "CLF": 4,
    "UYW": 4,
}
# Codes in the ISO 4217 list that are not money one pays a supplier in (precious metals, test code,
# SDR, bond units, "no currency").
_NOT_PAYABLE = frozenset(
    ["XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"]
)


class InvalidAmount(ValueError):
    """An amount or currency failed a rule; the message says which."""


def is_currency(code: str) -> bool:
    """True for an active ISO 4217 alphabetic code that money is paid in."""
    return (
        len(code) == 3
        and code.isupper()
        and code not in _NOT_PAYABLE
        and pycountry.currencies.get(alpha_3=code) is not None
    )


def currency_codes() -> list[str]:
    """Every active ISO 4217 code money is paid in (is_currency's list)."""
    return sorted(c.alpha_3 for c in pycountry.currencies if is_currency(c.alpha_3))


def minor_units(currency: str) -> int:
    """How many decimals `currency` has (SEK 2, JPY 0, KWD 3)."""
    return _MINOR_UNIT_EXCEPTIONS.get(currency, 2)


def parse_amount(text: str) -> Decimal:
    """A decimal amount written with a dot (`1234.50`): no sign, no exponent, no thousands separator."""
    text = text.strip()
    if not text:
        raise InvalidAmount("amount is empty")
    if not all(ch.isdigit() or ch == "." for ch in text) or text.count(".") > 1 or text in {"."}:
        raise InvalidAmount(f"amount {text!r} is not a decimal number with a dot, like 1234.50")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise InvalidAmount(f"amount {text!r} is not a decimal number") from None


AMOUNT_DIGITS = 18  # totalDigits of pain.001's amounts and control sums


def check_payable_amount(amount: Decimal, currency: str) -> None:
    """Greater than zero, no more decimals than the currency has (at most 2), and no more than 18
    digits in all as a payment file writes it."""
    if not amount.is_finite():
        raise InvalidAmount("amount is not a finite number")
    if amount <= 0:
        raise InvalidAmount("amount must be greater than zero")
    decimals = max(0, -amount.normalize().as_tuple().exponent)
    allowed = min(2, minor_units(currency))
    if decimals > allowed:
        raise InvalidAmount(f"amount has {decimals} decimals; {currency} payments take at most {allowed}")
    digits = len(str(int(amount))) + min(2, minor_units(currency))
    if digits > AMOUNT_DIGITS:
        raise InvalidAmount(
            f"amount {amount:f} has {digits} digits as written in a payment file; ISO 20022 amounts take at most {AMOUNT_DIGITS}"
        )


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact integer minor units (öre for SEK); raises when the amount has more decimals."""
    scaled = amount.scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """The exact amount of `minor` units (12495000 öre → 124950.00)."""
    return Decimal(minor).scaleb(-minor_units(currency))


def format_amount(amount: Decimal, currency: str) -> str:
    """The exact amount with the currency's number of decimals, as ISO 20022 files write it."""
    # Format's precision rounds as quantize does (half even), and is a third of its time.
    return f"{amount:.{minor_units(currency)}f}"

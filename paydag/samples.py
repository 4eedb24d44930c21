"""Realistic sample payables: the demo's batch and the benchmark's 100 000 payments.

Every identifier is valid (check digits computed, not copied), amounts are exact decimals, and
execution dates are Swedish bank days, so the rows pass validation as an ERP export would.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from stdnum import luhn

from paydag import bankdays
from paydag.payables import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)

# Valid creditor accounts of every kind (check digits verified by the tests of paydag.identifiers).
_SUPPLIERS: tuple[dict[str, str], ...] = (
    {"creditor_name": "Sågverk Öster AB", "account_type": "BG", "account": "5050-1055"},
    {"creditor_name": "Fjällmaskin Service AB", "account_type": "PG", "account": "12345-5"},
    {"creditor_name": "Kontorsservice Nord", "account_type": "BBAN", "account": "5000 1234560"},
    {"creditor_name": "Snickeri Ängelholm", "account_type": "BBAN", "account": "6000 123456789"},
    {"creditor_name": "VVS-Gruppen i Luleå", "account_type": "BBAN", "account": "8327-9, 912 345 678-3"},
    {"creditor_name": "Städbolaget i Umeå AB", "account_type": "IBAN", "account": "SE4550000000058398257466"},
    {
        "creditor_name": "Müller & Söhne GmbH",
        "account_type": "IBAN",
        "account": "DE89370400440532013000",
        "currency": "EUR",
        "creditor_street": "Hauptstraße",
        "creditor_building": "1",
        "creditor_postcode": "10115",
        "creditor_town": "Berlin",
    },
    {
        "creditor_name": "Oy Pohjolan Puu Ab",
        "account_type": "IBAN",
        "account": "FI2112345600000785",
        "currency": "EUR",
        "creditor_street": "Teollisuuskatu",
        "creditor_building": "5",
        "creditor_postcode": "00510",
        "creditor_town": "Helsinki",
    },
)


def ocr_reference(number: int) -> str:
    """An OCR reference with a Luhn check digit (no length digit)."""
    body = str(number)
    return body + luhn.calc_check_digit(body)


def bank_days_from(first: date, count: int) -> list[date]:
    days, day = [], bankdays.next_bank_day(first)
    while len(days) < count:
        days.append(day)
        day = bankdays.next_bank_day(day + timedelta(days=1))
    return days


def sample_payables(
    count: int, *, company: str, first_day: date, days: int = 3, id_prefix: str = "INV-"
) -> Iterator[dict[str, str]]:
    """`count` valid payables rows across every account type, over `days` bank days from `first_day`."""
    execution_days = bank_days_from(first_day, days)
    for n in range(count):
        supplier = _SUPPLIERS[n % len(_SUPPLIERS)]
        currency = supplier.get("currency", "SEK")
        amount = Decimal(1000 + (n * 7919) % 250_000) / 100 + (100 if currency == "SEK" else 0)
        use_ocr = supplier["account_type"] == "BG" or (currency == "SEK" and n % 3 == 0)
        yield {
            "payment_id": f"{id_prefix}{n + 1:07d}",
            "company": company,
            "creditor_name": supplier["creditor_name"],
            "account_type": supplier["account_type"],
            "account": supplier["account"],
            "bic": "",
            "amount": f"{amount:.2f}",
            "currency": currency,
            "execution_date": execution_days[n % len(execution_days)].isoformat(),
            "ocr": ocr_reference(20260000000 + n) if use_ocr else "",
            "message": "" if use_ocr else f"Faktura {n + 1}",
            "creditor_country": "",
            "creditor_address": supplier.get("creditor_address", ""),
            **{
                f: supplier.get(f, "")
                for f in ("creditor_street", "creditor_building", "creditor_postcode", "creditor_town")
            },
        }


def write_payables_csv(rows: Iterable[dict[str, str]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path

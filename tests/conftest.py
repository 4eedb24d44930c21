"""Shared test fixtures: the real sample files in ../shared/fixtures, a configured company, valid rows."""

from __future__ import annotations

import csv
import os
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"

# A Friday; the next bank days are Monday 2026-11-23 onwards. Tests pin "today" so that they mean
# the same thing on any day they run.
TODAY = date(2026, 11, 20)
BANK_DAY = "2026-11-24"


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"the shared fixtures are not beside the checkout ({SHARED_FIXTURES})")
    return SHARED_FIXTURES


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test reads the committed example config and keeps its state in a temporary home."""
    for name in [n for n in os.environ if n.startswith("PAYDAG_") and n != "PAYDAG_TEST_DATABASE_URL"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PAYDAG_CONFIG", str(REPO / "config" / "paydag.example.toml"))
    monkeypatch.setenv("PAYDAG_HOME", str(tmp_path_factory.mktemp("paydag-home")))


def row(**overrides: str) -> dict[str, str]:
    """A valid payables row (bankgiro with OCR) with some values replaced."""
    values = {
        "payment_id": "INV-1",
        "company": "demo",
        "creditor_name": "Sågverk Öster AB",
        "account_type": "BG",
        "account": "5050-1055",
        "bic": "",
        "amount": "18450.00",
        "currency": "SEK",
        "execution_date": BANK_DAY,
        "ocr": "20260911000000316",
        "message": "",
        "creditor_country": "",
        "creditor_address": "",
    }
    values.update(overrides)
    return values


# One valid row of each kind the done-when names: bankgiro + OCR, plusgiro, BBAN, SEK IBAN, EUR IBAN.
MIXED_ROWS = [
    row(payment_id="INV-1001"),
    row(
        payment_id="INV-1002",
        account_type="PG",
        account="12345-5",
        amount="7125.50",
        ocr="",
        message="Faktura 2026-0512",
    ),
    row(
        payment_id="INV-1003",
        account_type="BBAN",
        account="5000 1234560",
        amount="2990.00",
        ocr="",
        message="Faktura 88",
    ),
    row(
        payment_id="INV-1004",
        creditor_name="Städbolaget i Umeå AB",
        account_type="IBAN",
        account="SE45 5000 0000 0583 9825 7466",
        amount="1200.10",
        ocr="",
        message="Städning november",
    ),
    row(
        payment_id="INV-1005",
        creditor_name="Müller & Söhne GmbH",
        account_type="IBAN",
        account="DE89370400440532013000",
        amount="950.00",
        currency="EUR",
        ocr="",
        message="Rechnung 4711 für Oktober",
    ),
]


def write_csv(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    """Payables rows as the ERP would export them."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path

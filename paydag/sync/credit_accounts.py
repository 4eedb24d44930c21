"""PayEx credit accounts synced: accounts, bills and transactions since a watermark, raw JSON kept,
bills checked with their suite, curated as Parquet; the watermark moves only after all of that."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from paydag import identifiers
from paydag.atomic import replacing, write_replacing
from paydag.money import to_minor
from paydag.providers.payex import CreditAccountClient
from paydag.settings import package_data
from paydag.storage import Direction, RawStore
from paydag.validation import SuiteValidation, validate_frame

BILLS_SUITE = package_data("paydag.expectations", "credit_account_bills.json")
EPOCH = date(2000, 1, 1)


class Watermark:
    """Where the last successful sync stopped, per account: a JSON file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, str]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}

    def since(self, account_no: str) -> date:
        return date.fromisoformat(self.load().get(account_no, EPOCH.isoformat()))

    def advance(self, marks: dict[str, str]) -> None:
        write_replacing(self.path, json.dumps(self.load() | marks, indent=1, sort_keys=True).encode())


@dataclass
class CreditAccountSnapshot:
    accounts: pd.DataFrame
    bills: pd.DataFrame
    transactions: pd.DataFrame
    raw_keys: list[str] = field(default_factory=list)
    marks: dict[str, str] = field(default_factory=dict)


def _minor(value: Any) -> int | None:
    return None if value is None else to_minor(Decimal(str(value)), "SEK")


def fetch_credit_accounts(
    client: CreditAccountClient,
    accounts: list[str],
    *,
    watermark: Watermark,
    raw_store: RawStore,
    company: str,
    today: date,
) -> CreditAccountSnapshot:
    """Read every account, its bills and its transactions since the watermark; keep the raw JSON."""
    account_rows, bill_rows, tx_rows, keys = [], [], [], []
    for account_no in accounts:
        account = client.account(account_no)
        bills = client.bills(account_no)
        since = watermark.since(account_no)
        transactions = client.transactions(account_no, from_date=since)
        raw = json.dumps({"account": account, "bills": bills, "transactions": transactions, "since": since.isoformat()},
                         default=str, sort_keys=True).encode()  # fmt: skip
        keys.append(raw_store.put(Direction.INCOMING, "payex", f"credit-account-{account_no}.json", raw,
                                  source="sync-credit-accounts", content_type="application/json").key)  # fmt: skip
        account_rows.append({"account_no": account_no, "customer_no": account.get("customerNo"), "status": account.get("status"),
                             "currency": account.get("currency"), "credit_limit_minor": _minor(account.get("creditLimit")),
                             "total_balance_minor": _minor(account.get("totalBalance"))})  # fmt: skip
        for bill in bills:
            details = bill.get("activePaymentDetails") or {}
            reference = details.get("paymentReference")
            bill_rows.append({"account_no": account_no, "bill_no": bill.get("billNo"), "bill_key": f"{account_no}/{bill.get('billNo')}",
                              "bill_date": bill.get("billDate"), "due_date": bill.get("dueDate"), "bill_type": bill.get("billType"),
                              "status": bill.get("status"), "bill_amount_minor": _minor(bill.get("billAmount")),
                              "payment_reference": reference, "payment_reference_valid": _ocr_ok(reference)})  # fmt: skip
        for tx in transactions:
            tx_rows.append({"account_no": account_no, "type": tx.get("type"), "amount_minor": _minor(tx.get("amount")),
                            "billed": tx.get("billed"), "date": tx.get("date")})  # fmt: skip
    snapshot = CreditAccountSnapshot(
        accounts=pd.DataFrame(account_rows),
        bills=pd.DataFrame(
            bill_rows,
            columns=[
                "account_no",
                "bill_no",
                "bill_key",
                "bill_date",
                "due_date",
                "bill_type",
                "status",
                "bill_amount_minor",
                "payment_reference",
                "payment_reference_valid",
            ],
        ),
        transactions=pd.DataFrame(tx_rows, columns=["account_no", "type", "amount_minor", "billed", "date"]),
        raw_keys=keys,
        marks={a: today.isoformat() for a in accounts},
    )
    for frame, columns in (
        (snapshot.bills, ["bill_amount_minor"]),
        (snapshot.transactions, ["amount_minor"]),
    ):
        for column in columns:
            frame[column] = frame[column].astype("Int64")
    return snapshot


def _ocr_ok(reference: str | None) -> bool | None:
    if reference is None:
        return None
    try:
        identifiers.ocr(reference)
        return True
    except identifiers.InvalidIdentifier:
        return False


def validate_bills(bills: pd.DataFrame) -> SuiteValidation:
    return validate_frame(
        bills, suite_file=BILLS_SUITE, name="credit-account-bills", parameters={}, id_column="bill_key"
    )


def curate_credit_accounts(snapshot: CreditAccountSnapshot, curated_dir: Path) -> dict[str, str]:
    """accounts and bills replaced; transactions appended (the watermark fetches only what is new,
    and a re-run after a crash is deduplicated)."""
    target = curated_dir / "credit_accounts"
    target.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in (("accounts", snapshot.accounts), ("bills", snapshot.bills)):
        paths[name] = str(_write(frame, target / f"{name}.parquet"))
    existing = target / "transactions.parquet"
    transactions = snapshot.transactions
    if existing.exists():
        transactions = pd.concat(
            [pd.read_parquet(existing), transactions], ignore_index=True
        ).drop_duplicates()
    paths["transactions"] = str(_write(transactions, existing))
    return paths


def _write(frame: pd.DataFrame, path: Path) -> Path:
    with replacing(path) as file:
        frame.to_parquet(file, index=False)
    return path


def bills_for_reconciliation(curated_dir: Path) -> pd.DataFrame:
    """Open bills as incoming-payment reconciliation reads them (bill_no, payment_reference, amount_minor)."""
    bills = pd.read_parquet(curated_dir / "credit_accounts" / "bills.parquet")
    open_bills = bills[bills["status"] == "open"]
    return pd.DataFrame({"bill_no": open_bills["bill_no"], "payment_reference": open_bills["payment_reference"],
                         "amount_minor": open_bills["bill_amount_minor"].astype("int64")})  # fmt: skip

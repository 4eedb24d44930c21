"""A payables batch and what its validation found: the payments, their kinds, the issues by row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum


class PayablesUnreadable(Exception):
    """The payables file could not be read at all (exit 2); the message names the file and where."""


class AccountType(StrEnum):
    BG = "BG"
    PG = "PG"
    BBAN = "BBAN"
    IBAN = "IBAN"


class PaymentType(StrEnum):
    """What decides service level, charge bearer and character set in the file."""

    DOMESTIC = "domestic"  # SEK to a bankgiro, plusgiro or Swedish account
    SEPA = "sepa"  # EUR to an IBAN in the SEPA zone
    CROSS_BORDER = "cross-border"  # anything else


@dataclass(frozen=True, slots=True)
class Payment:
    """One validated supplier payment, its identifiers normalised."""

    row: int
    payment_id: str
    company: str
    creditor_name: str
    account_type: AccountType
    account: str  # BG/PG digits, BBAN clearing+account digits, or compact IBAN
    clearing: str | None  # BBAN only: 4 digits (Swedbank 8xxxx: 5)
    bic: str | None
    amount: Decimal
    currency: str
    execution_date: date
    ocr: str | None
    message: str | None
    creditor_country: str
    creditor_address: str | None  # unstructured lines, written as AdrLine beside the structured address
    payment_type: PaymentType
    creditor_street: str | None = None
    creditor_building: str | None = None
    creditor_postcode: str | None = None
    creditor_town: str | None = None
    allow_duplicate: str | None = None  # why paying what looks like an earlier payment again is right
    flags: tuple[str, ...] = ()  # what the checks against earlier payments flagged (paydag.send.controls)

    @property
    def structured_address(self) -> tuple[str | None, str | None, str | None, str | None]:
        return self.creditor_street, self.creditor_building, self.creditor_postcode, self.creditor_town

    def canonical(self) -> str:
        """The payment's identity as text: what makes two exports the same batch."""
        text = (
            f"{self.payment_id}\x1f{self.company}\x1f{self.creditor_name}\x1f{self.account_type}\x1f"
            f"{self.account}\x1f{self.bic or ''}\x1f{self.amount:f}\x1f{self.currency}\x1f"
            f"{self.execution_date.isoformat()}\x1f{self.ocr or ''}\x1f{self.message or ''}\x1f"
            f"{self.creditor_country}\x1f{self.creditor_address or ''}"
        )
        address = self.structured_address
        if any(address):  # counted only where given: the ids of earlier exports stay as they were
            text += "\x1f" + "\x1e".join(v or "" for v in address)
        return text


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A failed rule on one row: where, which field, why."""

    row: int
    payment_id: str
    field: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "payment_id": self.payment_id, "field": self.field, "reason": self.reason}


@dataclass
class ValidationReport:
    source: str
    rows_read: int = 0
    errors: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def invalid_payment_ids(self) -> list[str]:
        return sorted({e.payment_id for e in self.errors})

    @property
    def invalid_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})


@dataclass(frozen=True)
class PaymentBatch:
    """The valid payments of one payables export for one company, in input order."""

    company: str
    source: str
    payments: tuple[Payment, ...]

    @property
    def total(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal(0))

    def __len__(self) -> int:
        return len(self.payments)


# --- reading -------------------------------------------------------------------------------------

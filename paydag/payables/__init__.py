"""Payables from the ERP: read a CSV or JSON Lines export, validate every row, make a `PaymentBatch`.

Every row is checked and every failure is reported with its payment_id, field and reason, never just
the first. A batch with any invalid row is not built unless the caller allows a partial batch; then
the invalid rows are listed and left out.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from paydag.bulk import collector_paused
from paydag.formats.bank_profiles import BankProfile
from paydag.payables.batch import (
    AccountType,
    PayablesUnreadable,
    Payment,
    PaymentBatch,
    PaymentType,
    RowIssue,
    ValidationReport,
)
from paydag.payables.export import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    PayablesFile,
    PayablesTable,
    open_payables,
    read_payables,
    read_payables_table,
)
from paydag.payables.rules import validate_export, validate_payables, validate_table

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "AccountType",
    "PayablesFile",
    "PayablesTable",
    "PayablesUnreadable",
    "Payment",
    "PaymentBatch",
    "PaymentType",
    "RowIssue",
    "ValidationReport",
    "load_batch",
    "open_payables",
    "read_payables",
    "read_payables_table",
    "validate_export",
    "validate_payables",
    "validate_table",
]


def load_batch(
    path: Path,
    *,
    company: str,
    profile: BankProfile,
    today: date,
    allow_partial: bool = False,
    now: datetime | None = None,
    move_to_next_bank_day: bool = False,
) -> tuple[PaymentBatch | None, ValidationReport]:
    """Read and validate a payables file (`validate_table`). The batch is None when it must not be built.

    Raises `PayablesUnreadable` when the file cannot be read at all.
    """
    with collector_paused():
        payments, report = validate_export(
            open_payables(path), company=company, profile=profile, today=today, now=now,
            move_to_next_bank_day=move_to_next_bank_day,
        )  # fmt: skip
    if not payments or (report.errors and not allow_partial):
        return None, report
    return PaymentBatch(company=company, source=path.name, payments=tuple(payments)), report

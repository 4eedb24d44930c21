"""The PayEx credit-account and autogiro consent syncs: the steps their flows run (credit_accounts, consents)."""

from paydag.sync.consents import (
    ConsentChange,
    read_desired_consents,
    sync_consents,
)
from paydag.sync.credit_accounts import (
    BILLS_SUITE,
    EPOCH,
    CreditAccountSnapshot,
    Watermark,
    bills_for_reconciliation,
    curate_credit_accounts,
    fetch_credit_accounts,
    validate_bills,
)

__all__ = [
    "BILLS_SUITE",
    "EPOCH",
    "ConsentChange",
    "CreditAccountSnapshot",
    "Watermark",
    "bills_for_reconciliation",
    "curate_credit_accounts",
    "fetch_credit_accounts",
    "read_desired_consents",
    "sync_consents",
    "validate_bills",
]

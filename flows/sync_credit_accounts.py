"""sync-credit-accounts: PayEx credit accounts, bills and new transactions, kept raw, checked, curated."""

from __future__ import annotations

from prefect import flow

from tasks.sync import advance_watermark, curate_credit_accounts, fetch_credit_accounts, validate_bills


@flow(name="sync-credit-accounts", flow_run_name="sync credit accounts {company}")
def sync_credit_accounts(company: str = "demo") -> dict[str, object]:
    """Fetch the configured credit accounts, their bills and the transactions since the last sync; keep the
    raw JSON; check the bills (GX); publish curated tables; move the watermark only after all that.

    Args:
        company: company id in the paydag configuration
    """
    snapshot = fetch_credit_accounts(company)
    validate_bills(snapshot)
    curated = curate_credit_accounts(snapshot)
    advance_watermark(snapshot)
    return {"accounts": len(snapshot.accounts), "bills": len(snapshot.bills), "transactions": len(snapshot.transactions),
            "curated": curated, "raw_keys": snapshot.raw_keys}  # fmt: skip

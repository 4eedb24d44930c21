"""Tasks of the two syncs: PayEx credit accounts (watermark advanced only after success) and autogiro consents."""

from __future__ import annotations

import tempfile
from contextlib import closing
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from paydag import resources as domain_resources
from paydag import sync
from paydag.storage import fetch_input
from tasks import resources
from tasks.retry import RETRY_DELAYS, transient


@task(
    name="sync-credit-accounts",
    retries=3,
    retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=transient,
    cache_policy=NO_CACHE,
    tags=["payex-api"],
)
def sync_credit_accounts_task(company: str) -> dict[str, object]:
    """Fetch, keep raw, validate the bills, curate; the watermark moves only when all of it succeeded."""
    s = resources.settings()
    watermark = sync.Watermark(s.home / "watermarks" / "payex.json")
    with closing(domain_resources.open_payex(s)) as client:
        snapshot = sync.fetch_credit_accounts(client, s.payex_accounts, watermark=watermark, raw_store=resources.raw_store(),
                                              company=company, today=s.today())  # fmt: skip
    validation = sync.validate_bills(snapshot.bills)
    create_table_artifact(key="credit-account-bills-validation", table=[c.as_row() for c in validation.checks],
                          description="Expectations on the synced credit-account bills")  # fmt: skip
    if not validation.success:
        failed = ", ".join(f"{c.expectation}({c.column})" for c in validation.failed)
        raise ValueError(
            f"credit-account bills failed {len(validation.failed)} expectation(s): {failed}; watermark kept"
        )
    paths = sync.curate_credit_accounts(snapshot, s.curated_dir)
    watermark.advance(snapshot.marks)
    get_run_logger().info(
        "synced %d account(s), %d bill(s), %d new transaction(s)",
        len(snapshot.accounts),
        len(snapshot.bills),
        len(snapshot.transactions),
    )
    return {"accounts": len(snapshot.accounts), "bills": len(snapshot.bills), "transactions": len(snapshot.transactions),
            "curated": paths, "raw_keys": snapshot.raw_keys}  # fmt: skip


@task(name="sync-eft-consents", cache_policy=NO_CACHE, tags=["autogiro-api"])
def sync_consents_task(desired: str) -> dict[str, object]:
    s = resources.settings()
    s.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=s.home) as workdir:
        wanted = sync.read_desired_consents(fetch_input(desired, Path(workdir)))
    with closing(domain_resources.open_autogiro(s)) as client:
        changes = sync.sync_consents(client, wanted)
    create_table_artifact(key="eft-consent-changes", table=[c.as_row() for c in changes],
                          description="What the consent sync changed, and what failed with the reason")  # fmt: skip
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.action] = counts.get(c.action, 0) + 1
    return {"counts": counts, "failed": [c.as_row() for c in changes if c.action == "failed"]}

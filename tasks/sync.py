"""Tasks of the two syncs, one per step: PayEx credit accounts (fetched and kept raw, bills checked,
curated, then the watermark moved) and autogiro consents (read the desired list, apply the differences,
report). Retries sit on the steps that call out; a failed write does not fetch every account again."""

from __future__ import annotations

import tempfile
from contextlib import closing
from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from paydag import sync
from paydag.storage import fetch_input
from tasks import resources
from tasks.retry import io_task


def _watermark() -> sync.Watermark:
    return sync.Watermark(resources.settings().home / "watermarks" / "payex.json")


@io_task("fetch-credit-accounts", provider="payex-api")
def fetch_credit_accounts(company: str) -> sync.CreditAccountSnapshot:
    """The configured accounts, their bills and the transactions since the watermark; raw JSON kept."""
    s = resources.settings()
    with closing(resources.payex()) as client:
        return sync.fetch_credit_accounts(client, s.payex_accounts, watermark=_watermark(), raw_store=resources.raw_store(),
                                          company=company, today=s.today())  # fmt: skip


@task(name="validate-credit-account-bills", cache_policy=NO_CACHE)
def validate_bills(snapshot: sync.CreditAccountSnapshot) -> None:
    """The bills suite (GX); a failure stops the sync before anything is curated or the watermark moves."""
    validation = sync.validate_bills(snapshot.bills)
    create_table_artifact(key="credit-account-bills-validation", table=[c.as_row() for c in validation.checks],
                          description="Expectations on the synced credit-account bills")  # fmt: skip
    if not validation.success:
        failed = ", ".join(f"{c.expectation}({c.column})" for c in validation.failed)
        raise ValueError(
            f"credit-account bills failed {len(validation.failed)} expectation(s): {failed}; watermark kept"
        )


@task(name="curate-credit-accounts", cache_policy=NO_CACHE)
def curate_credit_accounts(snapshot: sync.CreditAccountSnapshot) -> dict[str, str]:
    return sync.curate_credit_accounts(snapshot, resources.settings().curated_dir)


@task(name="advance-credit-account-watermark", cache_policy=NO_CACHE)
def advance_watermark(snapshot: sync.CreditAccountSnapshot) -> None:
    """Only now, with everything curated: the next sync fetches what came after."""
    _watermark().advance(snapshot.marks)
    get_run_logger().info(
        "synced %d account(s), %d bill(s), %d new transaction(s)",
        len(snapshot.accounts),
        len(snapshot.bills),
        len(snapshot.transactions),
    )


@io_task("read-desired-consents")
def read_desired_consents(desired: str) -> list[dict[str, str]]:
    s = resources.settings()
    s.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=s.home) as workdir:
        return sync.read_desired_consents(fetch_input(desired, Path(workdir)))


@task(name="apply-consent-differences", cache_policy=NO_CACHE, tags=["autogiro-api"])
def apply_consent_differences(wanted: list[dict[str, str]]) -> list[sync.ConsentChange]:
    """Create or modify only what differs from the API's list (run again, it changes nothing more)."""
    with closing(resources.autogiro()) as client:
        return sync.sync_consents(client, wanted)


@task(name="publish-consent-changes", cache_policy=NO_CACHE)
def publish_consent_changes(changes: list[sync.ConsentChange]) -> dict[str, object]:
    create_table_artifact(key="eft-consent-changes", table=[c.as_row() for c in changes],
                          description="What the consent sync changed, and what failed with the reason")  # fmt: skip
    counts: dict[str, int] = {}
    for c in changes:
        counts[c.action] = counts.get(c.action, 0) + 1
    return {"counts": counts, "failed": [c.as_row() for c in changes if c.action == "failed"]}

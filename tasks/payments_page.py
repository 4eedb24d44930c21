"""The payments page: one table artifact per company (`payments-<company>`), republished by every send
and poll, and the counts and sums above it (`payments-summary-<company>`)."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from paydag.bankdays import bank_days_before
from paydag.register.page import payments_page
from tasks import resources


def page_key(company: str) -> str:
    return f"payments-{company}".lower().replace("_", "-")


@task(name="publish-payments-page", cache_policy=NO_CACHE)
def publish_payments_page(company: str) -> int:
    """Every payment of the last days' batches where it stands now; how many need someone."""
    s = resources.settings()
    since = datetime.now(UTC) - timedelta(days=s.payments_page_days)
    with closing(resources.register()) as register:
        recent = register.recent_payments(company, since)
    page = payments_page(
        company, recent, since=since.date(), awaiting_cutoff=bank_days_before(s.today(), s.awaiting_bank_days)
    )
    create_markdown_artifact(
        key=page_key(company).replace("payments-", "payments-summary-", 1),
        markdown=page.as_markdown(),
        description=f"{company}: payments per state, and those that need someone",
    )
    create_table_artifact(
        key=page_key(company),
        table=page.rows,
        description=f"{company}: every payment of the last {s.payments_page_days} days",
    )
    return len(page.needs_someone)

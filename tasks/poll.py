"""Tasks of the poll flow: list, receive one document, acknowledge, report."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from paydag import poll, reconcile
from paydag.bankdays import bank_days_before, non_bank_day_reason
from paydag.poll import DocumentState
from paydag.providers.channel import ReceivedDocument
from tasks import events, resources
from tasks.retry import io_task


@task(name="check-bank-day", cache_policy=NO_CACHE)
def non_bank_day(bank_days_only: bool) -> str | None:
    """Why today is no day to poll (a Swedish bank holiday), when the run asks; None otherwise."""
    if not bank_days_only:
        return None
    today = resources.settings().today()
    reason = non_bank_day_reason(today)
    if reason:
        get_run_logger().info("%s is not a bank day (%s): nothing to poll", today, reason)
        return f"{today} is not a bank day ({reason})"
    return None


@io_task("list-return-files", retries=5, provider="pagero-api")
def list_documents(company: str) -> list[ReceivedDocument]:
    provider_id = resources.settings().company(company).provider_company_id
    with closing(resources.channel(company)) as channel:
        documents = poll.new_documents(channel, provider_id)
    get_run_logger().info("%s: %d document(s) to receive", company, len(documents))
    return documents


@io_task("receive-return-file", retries=5, provider="pagero-api", task_run_name="receive {document.name}")
def receive_document(company: str, document: ReceivedDocument) -> poll.DocumentOutcome:
    """Download, store raw, register, classify, parse and apply one document (not acknowledged yet);
    announce it with a `paydag.file.stored` event."""
    with closing(resources.register()) as register, closing(resources.channel(company)) as channel:
        register.ensure_company(company, resources.settings().company(company))  # a poll before any send
        outcome = poll.receive_document(
            document,
            company_id=company,
            channel=channel,
            raw_store=resources.raw_store(),
            register=register,
            ledger=resources.ledger(),
        )
    log = get_run_logger()
    for warning in outcome.warnings:
        log.warning("%s", warning)
    if outcome.state == DocumentState.QUARANTINED:
        log.warning("%s quarantined: %s", outcome.name, outcome.reason)
    elif outcome.state == DocumentState.HANDED_OVER:
        log.info("%s: %s kept for the settlement ingest", outcome.name, outcome.kind)
    else:
        log.info(
            "%s: %s %s, %d payment(s) changed, %d incoming",
            outcome.name,
            outcome.kind,
            outcome.state,
            outcome.changed,
            outcome.incoming,
        )
    events.file_stored(company, outcome)
    return outcome


@io_task("acknowledge-return-files", retries=5, provider="pagero-api")
def acknowledge(company: str, outcomes: list[poll.DocumentOutcome]) -> list[str]:
    """Acknowledge at the provider only what is durable in the raw store and the register."""
    with closing(resources.channel(company)) as channel:
        return poll.acknowledge(channel, outcomes)


@task(name="publish-poll-report", cache_policy=NO_CACHE)
def publish_report(company: str, outcomes: list[poll.DocumentOutcome]) -> None:
    key = f"poll-{company}".lower().replace("_", "-")
    create_table_artifact(
        key=f"{key}-files",
        table=[
            {
                "file": o.name,
                "kind": o.kind,
                "state": o.state,
                "entries": o.entries,
                "payments changed": o.changed,
                "incoming payments": o.incoming,
                "unmatched": len(o.unmatched),
                "reason": o.reason,
                "raw key": o.raw_key,
            }
            for o in outcomes
        ],
        description=f"Return files fetched for {company}",
    )
    create_table_artifact(
        key=f"{key}-rejected",
        table=[
            {"payment_id": pid, "state": state, "reason code": code, "reason": text, "file": o.name}
            for o in outcomes
            for pid, state, code, text in o.rejected_or_returned
        ],
        description=f"Payments of {company} rejected or returned by the bank in this poll",
    )


@task(name="publish-awaiting-return-report", cache_policy=NO_CACHE)
def publish_awaiting(company: str) -> int:
    """Payments the bank should have confirmed by now: SENT/ACCEPTED, executed N bank days ago."""
    s = resources.settings()
    cutoff = bank_days_before(s.today(), s.awaiting_bank_days)
    with closing(resources.register()) as register:
        waiting = register.awaiting_return_report(cutoff, company)
    create_table_artifact(
        key=f"awaiting-return-report-{company}".lower().replace("_", "-"),
        table=[p.as_row() for p in waiting],
        description=f"{company}: payments executed on or before {cutoff} with no return report yet",
    )
    return len(waiting)


@io_task("reconcile-statements")
def reconcile_statements(company: str, outcomes: list[poll.DocumentOutcome]) -> dict[str, int]:
    """The camt.053 statements this poll applied, against the register (entries, booked payments,
    balance continuity); exceptions carried forward; the result as artifacts."""
    keys = {
        o.raw_key for o in outcomes if o.kind.startswith("camt.053") and o.state == DocumentState.PROCESSED
    }
    if not keys:
        return {}
    with closing(resources.register()) as register:  # after all of the poll's files: a replay does the same
        store = resources.raw_store()
        statements, inputs = reconcile.received_statements(register, store, company, keys)
        result, update = reconcile.reconcile_recorded(
            register, store, company, statements, inputs, now=datetime.now(UTC), label="the poll's statements"
        )
    publish_statement_reconciliation(company, result, update)
    return result.counts()


def publish_statement_reconciliation(company: str, result, update) -> None:
    key = f"statement-reconciliation-{company}".lower().replace("_", "-")
    create_table_artifact(
        key=key,
        table=[e.as_row() for e in result.entries]
        + [{"state": "booked, not on the statement", **p.as_row()} for p in result.missing_payments]
        + [
            {"state": "balance break", "statement": b.statement, "detail": b.describe()}
            for b in result.breaks
        ],
        description=f"{company}: bank statement entries against the register: {result.counts()}; exceptions opened "
        f"{update.entries.opened + update.payments.opened + update.balances.opened}, resolved "
        f"{update.entries.resolved + update.payments.resolved + update.balances.resolved}",
    )

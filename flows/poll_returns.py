"""poll-return-files: every new bank file fetched once, kept, understood, applied, then acknowledged."""

from __future__ import annotations

from prefect import flow, unmapped

from paydag.poll import DocumentState
from paydag.register import Work
from tasks import runners
from tasks.claims import one_per_company
from tasks.payments_page import publish_payments_page
from tasks.poll import (
    acknowledge,
    list_documents,
    non_bank_day,
    publish_awaiting,
    publish_report,
    receive_document,
    reconcile_statements,
)
from tasks.resources import settings


@flow(name="poll-return-files", flow_run_name="poll {company}", task_runner=runners.per_file(max_workers=4))
def poll_return_files(company: str | None = None, bank_days_only: bool = False) -> dict[str, object]:
    """Fetch pain.002 and camt.054 files per company, apply them to the payment register, route incoming
    payments to the rent ledger, and acknowledge each file only once it is stored and applied.

    Args:
        company: company id in the paydag configuration; every configured company when empty
        bank_days_only: do nothing on a Swedish bank holiday (cron schedules know weekdays, not holidays)
    """
    closed = non_bank_day(bank_days_only)
    if closed:
        return {"skipped": closed}
    companies = [company] if company else sorted(settings().companies)
    summary: dict[str, object] = {}
    failures: list[BaseException] = []
    for c in companies:
        with one_per_company(Work.POLL, c) as claim:  # one poll per company: a lease in the register
            documents = list_documents(c)
            # one task per file: 4 threads at a time, or on the Dask cluster
            futures = receive_document.map(unmapped(c), documents)
            outcomes = []
            for future in futures:
                try:
                    outcomes.append(future.result())
                except Exception as exc:  # the other files go on; the run still fails at the end
                    failures.append(exc)
            claim.check()  # a poll that lost its claim leaves the acknowledgement to the one that has it
            acknowledged = acknowledge(c, outcomes)
        publish_report(c, outcomes)
        statements = reconcile_statements(c, outcomes)
        awaiting = publish_awaiting(c)
        publish_payments_page(c)
        summary[c] = {
            "awaiting_return_report": awaiting,
            "files": len(outcomes),
            "acknowledged": len(acknowledged),
            "payments_changed": sum(o.changed for o in outcomes),
            "incoming_payments": sum(o.incoming for o in outcomes),
            "quarantined": [o.name for o in outcomes if o.state == DocumentState.QUARANTINED],
            "statement_entries": statements,
        }
    if failures:
        raise RuntimeError(
            f"{len(failures)} return file(s) could not be received: {failures[0]}"
        ) from failures[0]
    return summary

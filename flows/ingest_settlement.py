"""ingest-settlement-report: a Swedbank Pay transaction list archived, validated with GX, curated."""

from __future__ import annotations

from collections.abc import Callable

from prefect import flow
from prefect.runtime import flow_run

from paydag.ingest import Archived
from paydag.storage import name_in_key
from tasks.ingest import archive_report, kept_report, new_reports, validate_and_curate, waiting_reports


def _run_name() -> str:
    p = flow_run.parameters
    if p.get("raw_key"):  # incoming/{company}/{yyyy}/{mm}/{dd}/{sha256}-{name}: the name says more
        return f"ingest {name_in_key(p['raw_key'])}"
    return f"ingest {p.get('source') or 'inbox'}"


@flow(name="ingest-settlement-report", flow_run_name=_run_name)
def ingest_settlement_report(
    source: str | None = None, company: str = "demo", force: bool = False, raw_key: str | None = None
) -> dict[str, object]:
    """Archive a settlement report, check it with its expectation suite, and publish it as a curated table.

    Args:
        source: the Transaction List XML, a local path or an s3:// URI; empty: every new report in the inbox
            and every kept report not yet ingested
        company: company id in the paydag configuration (the merchant the report belongs to)
        force: ingest again even when this AccountingNo was curated before
        raw_key: a report already in the raw store (set by the trigger on a poll's paydag.file.stored event)
    """
    if raw_key:
        return ingest_one(kept_report(raw_key, company), company, force)
    if not source:
        return ingest_inbox(company)
    return ingest_one(archive_report(source, company), company, force)


def ingest_one(archived: Archived, company: str, force: bool) -> dict[str, object]:
    outcome = validate_and_curate(archived, company, force)
    return {
        "accounting_no": outcome.accounting_no,
        "version": outcome.version,
        "state": outcome.state,
        "rows": outcome.rows,
        "sums_minor": outcome.sums_minor,
        "raw_key": outcome.raw_key,
        "curated_path": outcome.curated_path,
        "docs_key": outcome.docs_key,
    }


def ingest_inbox(company: str) -> dict[str, object]:
    """Reports kept but never ingested, then each new report of the inbox, each on its own: one that
    fails does not stop the others, but fails the run."""
    results: dict[str, object] = {}
    failures: list[str] = []
    for raw_key in waiting_reports(company):
        _ingest_each(raw_key, kept_report, company, results, failures)
    for source in new_reports():
        _ingest_each(source, archive_report, company, results, failures)
    if failures:
        raise RuntimeError(f"{len(failures)} settlement report(s) failed: " + "; ".join(failures))
    return {"reports": results}


def _ingest_each(
    source: str, take: Callable[[str, str], Archived], company: str, results: dict, failures: list[str]
) -> None:
    try:
        results[source] = ingest_one(take(source, company), company, force=False)
    except Exception as exc:  # noted; the other reports go on
        failures.append(f"{source}: {exc}")
        results[source] = {"state": "FAILED", "error": str(exc)}

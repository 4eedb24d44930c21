"""ingest-settlement-report: a Swedbank Pay transaction list archived, validated with GX, curated."""

from __future__ import annotations

from prefect import flow

from tasks.ingest import archive_report, new_reports, validate_and_curate


@flow(name="ingest-settlement-report", flow_run_name="ingest {source}")
def ingest_settlement_report(
    source: str | None = None, company: str = "demo", force: bool = False
) -> dict[str, object]:
    """Archive a settlement report, check it with its expectation suite, and publish it as a curated table.

    Args:
        source: the Transaction List XML, a local path or an s3:// URI; empty: every new report in the inbox
        company: company id in the paydag configuration (the merchant the report belongs to)
        force: ingest again even when this AccountingNo was curated before
    """
    if not source:
        return ingest_inbox(company)
    return ingest_one(source, company, force)


def ingest_one(source: str, company: str, force: bool) -> dict[str, object]:
    archived = archive_report(source, company)
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
    """Each new report of the inbox on its own: one that fails does not stop the others, but fails the run."""
    results: dict[str, object] = {}
    failures: list[str] = []
    for source in new_reports():
        try:
            results[source] = ingest_one(source, company, force=False)
        except Exception as exc:
            failures.append(f"{source}: {exc}")
            results[source] = {"state": "FAILED", "error": str(exc)}
    if failures:
        raise RuntimeError(f"{len(failures)} settlement report(s) failed: " + "; ".join(failures))
    return {"reports": results}

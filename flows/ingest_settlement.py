"""ingest-settlement-report: a Swedbank Pay transaction list archived, validated with GX, curated."""

from __future__ import annotations

from prefect import flow

from tasks.ingest import archive_report, validate_and_curate


@flow(name="ingest-settlement-report", flow_run_name="ingest {source}")
def ingest_settlement_report(source: str, company: str = "demo", force: bool = False) -> dict[str, object]:
    """Archive a settlement report, check it with its expectation suite, and publish it as a curated table.

    source: the Transaction List XML, a local path or an s3:// URI
    company: company id in the paydag configuration (the merchant the report belongs to)
    force: ingest again even when this AccountingNo was curated before
    """
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

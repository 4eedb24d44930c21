"""Ingesting Swedbank Pay settlement reports: the steps the ingest-settlement-report flow runs (steps)."""

from paydag.ingest.steps import (
    KIND,
    RAW_PREFIX,
    Archived,
    IngestOutcome,
    IngestState,
    SettlementInvalid,
    already_ingested,
    archive,
    curate,
    kept,
    new_inbox_files,
    parse_or_quarantine,
    validate_and_curate,
    waiting_reports,
)

__all__ = [
    "KIND",
    "RAW_PREFIX",
    "Archived",
    "IngestOutcome",
    "IngestState",
    "SettlementInvalid",
    "already_ingested",
    "archive",
    "curate",
    "kept",
    "new_inbox_files",
    "parse_or_quarantine",
    "validate_and_curate",
    "waiting_reports",
]

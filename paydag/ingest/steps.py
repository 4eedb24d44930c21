"""Ingesting a Swedbank Pay settlement report: the steps the `ingest-settlement-report` flow runs.

archive the raw file (`incoming/settlement/…`) → register it → parse → (the same AccountingNo again is
a no-op unless forced) → validate with the GX suite → pass: curated Parquet and a register row;
fail: the file quarantined in the store and the register, nothing curated, the failed checks named.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from paydag.atomic import replacing
from paydag.formats.classify import FileKind
from paydag.formats.settlement import SettlementReport, parse_settlement
from paydag.formats.xml import FormatError
from paydag.register import Register, ReportState, SettlementRecord
from paydag.storage import Direction, RawObject, RawStore, inbox_files, name_in_key
from paydag.storage.sftp import SftpCredentials
from paydag.validation import SuiteValidation, validate_settlement

SOURCE = "ingest-settlement-report"  # the raw store's `source` of a report from the inbox
DOCS_SOURCE = "ingest-settlement-report: data docs"  # of the Data Docs kept beside it
RAW_PREFIX = "settlement"  # raw keys: incoming/settlement/{yyyy}/{mm}/{dd}/{sha256}-{name}
KIND = (
    FileKind.SETTLEMENT.value
)  # the register's kind for these files, whether the ingest or a poll kept them


class IngestState(StrEnum):
    CURATED = ReportState.CURATED.value  # validated and curated by this run
    ALREADY = "ALREADY"  # its AccountingNo was curated before (and the run was not forced)


class SettlementInvalid(Exception):
    """The report does not add up (or breaks another expectation); it is quarantined."""

    def __init__(self, accounting_no: str, validation: SuiteValidation) -> None:
        names = ", ".join(f"{c.expectation}({c.column or ''})" for c in validation.failed)
        super().__init__(
            f"settlement report {accounting_no} failed {len(validation.failed)} expectation(s): {names}"
        )
        self.accounting_no = accounting_no
        self.validation = validation


@dataclass(frozen=True)
class Archived:
    raw: RawObject
    file_id: int
    name: str


@dataclass(frozen=True)
class IngestOutcome:
    accounting_no: str
    version: str
    state: IngestState
    rows: int
    sums_minor: dict[str, int]
    raw_key: str
    curated_path: str | None
    docs_key: str | None
    validation: SuiteValidation | None


def new_inbox_files(inbox: str, register: Register, sftp: SftpCredentials | None = None) -> list[str]:
    """Every file in the inbox (a directory, an s3:// prefix or an sftp:// folder) whose bytes the
    register has not seen."""
    found = inbox_files(inbox, sftp)
    new: dict[str, str] = {}  # sha256 → the first file with those bytes
    for uri, body in found:
        digest = hashlib.sha256(body).hexdigest()
        if digest not in new and not register.known_incoming_sha256(digest):
            new[digest] = uri
    return list(new.values())


def waiting_reports(company_id: str, register: Register) -> list[str]:
    """Raw keys of settlement reports kept but not yet curated or quarantined: an ingest that died after
    the archive, or a poll's hand-over whose trigger event never started one."""
    return [f.raw_key for f in register.waiting_files(company_id, KIND)]


def archive(data: bytes, name: str, *, company_id: str, raw_store: RawStore, register: Register) -> Archived:
    raw = raw_store.put(
        Direction.INCOMING,
        RAW_PREFIX,
        name,
        data,
        source=f"{SOURCE} ({company_id})",  # the company: the key names only the report's kind
        content_type="application/xml",
    )
    received = register.record_received(company_id, raw=raw, name=name, kind=KIND, provider_document_id=None)
    return Archived(raw=raw, file_id=received.id, name=name)


def kept(raw_key: str, *, company_id: str, raw_store: RawStore, register: Register) -> Archived:
    """A report already in the raw store (a poll stored it on arrival): registered, not stored again."""
    raw = raw_store.head(raw_key)
    if raw is None:
        raise FileNotFoundError(f"{raw_key}: no such file in the raw store {raw_store.url}")
    name = name_in_key(raw_key)
    received = register.record_received(
        company_id, raw=raw, name=name, kind=KIND, provider_document_id=raw.provider_id
    )  # the poll's record when it registered the file (same bytes), else a new one
    return Archived(raw=raw, file_id=received.id, name=name)


def parse_or_quarantine(
    data: bytes, archived: Archived, *, raw_store: RawStore, register: Register
) -> SettlementReport:
    try:
        return parse_settlement(data, archived.name)
    except FormatError as exc:
        raw_store.put(
            Direction.QUARANTINE, RAW_PREFIX, archived.name, data, source=f"quarantined: {str(exc)[:200]}"
        )
        register.quarantine(archived.file_id, str(exc))
        raise


def already_ingested(report: SettlementReport, register: Register) -> SettlementRecord | None:
    existing = register.settlement(report.accounting_no)
    return existing if existing is not None and existing.state == ReportState.CURATED else None


def curate_once(
    data: bytes,
    archived: Archived,
    *,
    raw_store: RawStore,
    register: Register,
    curated_dir: Path,
    docs_dir: Path,
    force: bool = False,
) -> IngestOutcome:
    """Parse (or quarantine), then validate and curate, unless the AccountingNo was curated before and
    the run is not forced: the file is then done, and the outcome ALREADY names the earlier one."""
    report = parse_or_quarantine(data, archived, raw_store=raw_store, register=register)
    existing = None if force else already_ingested(report, register)
    if existing is None:
        return validate_and_curate(
            report, archived, data, raw_store=raw_store, register=register, curated_dir=curated_dir,
            docs_dir=docs_dir,
        )  # fmt: skip
    register.processed(archived.file_id, f"{report.accounting_no} was curated before from {existing.raw_key}")
    return IngestOutcome(
        accounting_no=existing.accounting_no, version=existing.version, state=IngestState.ALREADY, rows=existing.row_count,
        sums_minor=existing.sums_minor, raw_key=existing.raw_key, curated_path=existing.curated_path,
        docs_key=existing.docs_key, validation=None,
    )  # fmt: skip


def validate_and_curate(
    report: SettlementReport,
    archived: Archived,
    data: bytes,
    *,
    raw_store: RawStore,
    register: Register,
    curated_dir: Path,
    docs_dir: Path,
) -> IngestOutcome:
    docs = docs_dir / report.accounting_no
    shutil.rmtree(docs, ignore_errors=True)
    validation = validate_settlement(report, docs_dir=docs)
    docs_key = _store_docs(docs, report, raw_store)
    if not validation.success:
        raw_store.put(
            Direction.QUARANTINE, RAW_PREFIX, archived.name, data, source="quarantined: expectations failed"
        )
        register.record_settlement(
            accounting_no=report.accounting_no, version=report.version, file_id=archived.file_id, state=ReportState.QUARANTINED,
            row_count=len(report.rows), sums_minor=report.currency_sums_minor, curated_path=None, docs_key=docs_key,
            detail="; ".join(f"{c.expectation}({c.column or ''}): {c.observed}" for c in validation.failed)[:2000],
        )  # fmt: skip
        raise SettlementInvalid(report.accounting_no, validation)
    curated = curate(report, curated_dir)
    register.record_settlement(
        accounting_no=report.accounting_no, version=report.version, file_id=archived.file_id, state=ReportState.CURATED,
        row_count=len(report.rows), sums_minor=report.currency_sums_minor, curated_path=str(curated), docs_key=docs_key,
    )  # fmt: skip
    return IngestOutcome(
        accounting_no=report.accounting_no, version=report.version, state=ReportState.CURATED, rows=len(report.rows),
        sums_minor=report.currency_sums_minor, raw_key=archived.raw.key, curated_path=str(curated), docs_key=docs_key,
        validation=validation,
    )  # fmt: skip


def curate(report: SettlementReport, curated_dir: Path) -> Path:
    """`{curated}/settlement/{AccountingNo}.parquet`, written whole and then moved into place."""
    target = curated_dir / "settlement" / f"{report.accounting_no}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = report.rows.assign(accounting_no=report.accounting_no, report_version=report.version)
    with replacing(target) as file:
        rows.to_parquet(file, index=False)
    return target


def _store_docs(docs: Path, report: SettlementReport, raw_store: RawStore) -> str | None:
    """The Data Docs, zipped, in the raw store next to the report."""
    if not docs.exists():
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive_:
        for path in sorted(docs.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(docs).as_posix(), date_time=(2000, 1, 1, 0, 0, 0))
                archive_.writestr(info, path.read_bytes())
    obj = raw_store.put(
        Direction.INCOMING, RAW_PREFIX, f"{report.accounting_no}-data-docs.zip", buffer.getvalue(),
        source=DOCS_SOURCE, content_type="application/zip",
    )  # fmt: skip
    return obj.key

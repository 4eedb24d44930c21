"""Received files and what they carry: status reports applied to payments, incoming payments kept."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paydag.formats.camt053 import StatementReport
from paydag.formats.camt054 import Camt054Transaction
from paydag.formats.pain002 import StatusReport
from paydag.register import returns
from paydag.register.database import RegisterBase, RegisterError, serialise_company
from paydag.register.models import (
    FileRow,
    FileState,
    IncomingPaymentRow,
)
from paydag.register.returns import ApplyResult
from paydag.register.statements import record_statements
from paydag.storage import RawObject


@dataclass(frozen=True)
class ReceivedFile:
    id: int
    kind: str
    state: FileState
    raw_key: str
    new: bool


@dataclass(frozen=True)
class IncomingPayment:
    id: int
    ocr: str | None
    amount_minor: int
    currency: str
    payer_name: str | None
    receiving_account: str | None
    booking_date: str | None
    file_id: int
    references: tuple[str, ...] = ()  # every creditor reference of the transaction; `ocr` is the first
    acct_svcr_ref: str | None = None  # the bank's reference of the transaction


class ReceivedFiles(RegisterBase):
    """The poll lifecycle: a file stored once, applied once, handed over or quarantined."""

    def record_received(
        self, company_id: str, *, raw: RawObject, name: str, kind: str, provider_document_id: str | None
    ) -> ReceivedFile:
        """A downloaded document is in the raw store: register it (state STORED), once. The existing
        record when the same bytes or the same provider document came before."""
        try:
            with self._tx() as s:
                row = FileRow(
                    company_id=company_id,
                    direction="incoming",
                    kind=kind,
                    name=name,
                    raw_key=raw.key,
                    sha256=raw.sha256,
                    size=raw.size,
                    provider_file_id=provider_document_id,
                    state=FileState.STORED,
                )
                s.add(row)
                s.flush()
                return ReceivedFile(row.id, row.kind, FileState(row.state), row.raw_key, new=True)
        except IntegrityError:
            with self._tx() as s:
                same = FileRow.sha256 == raw.sha256
                if provider_document_id is not None:
                    same = same | (FileRow.provider_file_id == provider_document_id)
                row = s.scalar(select(FileRow).where(FileRow.direction == "incoming", same))
                assert row is not None
                return ReceivedFile(row.id, row.kind, FileState(row.state), row.raw_key, new=False)

    def known_incoming_sha256(self, sha256: str) -> bool:
        with self._tx() as s:
            return (
                s.scalar(select(FileRow.id).where(FileRow.direction == "incoming", FileRow.sha256 == sha256))
                is not None
            )

    def received_file(self, provider_document_id: str) -> ReceivedFile | None:
        with self._tx() as s:
            row = s.scalar(
                select(FileRow).where(
                    FileRow.direction == "incoming", FileRow.provider_file_id == provider_document_id
                )
            )
            return (
                None
                if row is None
                else ReceivedFile(row.id, row.kind, FileState(row.state), row.raw_key, new=False)
            )

    def apply_status_report(self, file_id: int, report: StatusReport) -> ApplyResult:
        """Apply a pain.002 to its payments, once: a file already PROCESSED changes nothing."""
        return self._apply(file_id, lambda s, f: returns.apply_status_report(s, f, report))

    def apply_account_notification(self, file_id: int, transactions: list[Camt054Transaction]) -> ApplyResult:
        """Apply a camt.054 (bookings, returns, incoming payments), once."""
        return self._apply(
            file_id, lambda s, f: returns.apply_account_notification(s, f, transactions, f.company_id)
        )

    def apply_statement(self, file_id: int, report: StatementReport) -> ApplyResult:
        """Apply a camt.053 (its entries as a notification's), and keep its statements, once."""

        def apply(s: Session, f: FileRow) -> ApplyResult:
            record_statements(s, f.company_id, f.id, report.statements)
            return returns.apply_account_notification(s, f, report.transactions, f.company_id)

        return self._apply(file_id, apply)

    def _apply(self, file_id: int, apply: Callable[[Session, FileRow], ApplyResult]) -> ApplyResult:
        with self._tx() as s:
            file = s.scalar(select(FileRow).where(FileRow.id == file_id).with_for_update())
            if file is None:
                raise RegisterError(f"no received file {file_id}")
            if file.state == FileState.PROCESSED:
                return ApplyResult()
            serialise_company(s, file.company_id)
            result = apply(s, file)
            file.state = FileState.PROCESSED
            file.detail = f"{result.changed} payment(s) changed, {result.incoming} incoming, {len(result.unmatched)} unmatched"
            return result

    def hand_over(self, file_id: int, to: str) -> None:
        """A stored file another flow reads (a settlement report, read by the ingest): the poll is done."""
        with self._tx() as s:
            file = s.get(FileRow, file_id)
            if file is None:
                raise RegisterError(f"no received file {file_id}")
            if file.state == FileState.STORED:
                file.state, file.detail = FileState.HANDED_OVER, f"to {to}"

    def waiting_files(self, company_id: str, kind: str) -> list[ReceivedFile]:
        """Received files of a kind that were stored (or handed over) but never processed or quarantined:
        a run that died after the store, or a trigger event that was lost. Oldest first."""
        with self._tx() as s:
            rows = s.scalars(
                select(FileRow)
                .where(
                    FileRow.direction == "incoming",
                    FileRow.company_id == company_id,
                    FileRow.kind == kind,
                    FileRow.state.in_((FileState.STORED, FileState.HANDED_OVER)),
                )
                .order_by(FileRow.id)
            )
            return [ReceivedFile(r.id, r.kind, FileState(r.state), r.raw_key, new=False) for r in rows]

    def files_of_kind(
        self, company_id: str, kind_prefix: str, state: FileState = FileState.PROCESSED
    ) -> list[ReceivedFile]:
        """Received files whose kind starts with `kind_prefix` (camt.053 in any version), oldest first."""
        with self._tx() as s:
            rows = s.scalars(
                select(FileRow)
                .where(FileRow.direction == "incoming", FileRow.company_id == company_id,
                       FileRow.kind.startswith(kind_prefix), FileRow.state == state)
                .order_by(FileRow.id)
            )  # fmt: skip
            return [ReceivedFile(r.id, r.kind, FileState(r.state), r.raw_key, new=False) for r in rows]

    def processed(self, file_id: int, detail: str) -> None:
        """A waiting file that needs nothing more (its content was processed from another file)."""
        with self._tx() as s:
            file = s.get(FileRow, file_id)
            if file is not None and file.state in (FileState.STORED, FileState.HANDED_OVER):
                file.state, file.detail = FileState.PROCESSED, detail[:2000]

    def quarantine(self, file_id: int, reason: str) -> None:
        with self._tx() as s:
            file = s.get(FileRow, file_id)
            if file is not None and file.state != FileState.PROCESSED:
                file.state, file.detail = FileState.QUARANTINED, reason[:2000]

    def incoming_payments(self, company_id: str | None = None) -> list[IncomingPayment]:
        with self._tx() as s:
            query = select(IncomingPaymentRow).order_by(IncomingPaymentRow.id)
            if company_id:
                query = query.where(IncomingPaymentRow.company_id == company_id)
            return [
                IncomingPayment(
                    id=r.id,
                    ocr=r.ocr,
                    amount_minor=r.amount_minor,
                    currency=r.currency,
                    payer_name=r.payer_name,
                    receiving_account=r.receiving_account,
                    booking_date=r.booking_date.isoformat() if r.booking_date else None,
                    file_id=r.file_id,
                    references=tuple((r.references or "").split()),
                    acct_svcr_ref=r.acct_svcr_ref,
                )
                for r in s.scalars(query)
            ]

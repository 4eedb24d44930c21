"""The payment register: what was built, archived and sent, and where every payment stands.

Every write is one transaction and idempotent: recording the same fact twice changes nothing, so any
step of a flow can be run again after a crash.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from paydag.formats.camt054 import Camt054Transaction
from paydag.formats.pain002 import StatusReport
from paydag.identifiers import mask
from paydag.money import from_minor, to_minor
from paydag.payables import Payment
from paydag.register import returns
from paydag.register.claims import Claims
from paydag.register.models import (
    BatchRow,
    BatchState,
    CompanyRow,
    FileRow,
    IncomingPaymentRow,
    PaymentRow,
    PaymentState,
    ReconExceptionRow,
    SettlementReportRow,
    StatusEventRow,
)
from paydag.register.returns import ApplyResult
from paydag.settings import Company, package_data
from paydag.storage import RawObject

MIGRATIONS = package_data("paydag.register.migrations")
_UPGRADE_LOCK = threading.Lock()


class RegisterError(Exception):
    """The register refused a write; the message says why."""


@dataclass(frozen=True)
class BatchRecord:
    msg_id: str
    company: str
    source: str
    state: BatchState
    created_at: datetime
    raw_key: str | None
    provider_file_id: str | None
    file_state: str | None
    nb_of_txs: int | None
    ctrl_sum: str | None

    def as_row(self) -> dict[str, object]:
        """The batch as `paydag status` shows it."""
        return {
            "msg_id": self.msg_id, "company": self.company, "state": self.state.value, "payments": self.nb_of_txs,
            "ctrl_sum": self.ctrl_sum, "provider_file_id": self.provider_file_id, "file_state": self.file_state,
            "raw_key": self.raw_key,
        }  # fmt: skip


@dataclass(frozen=True)
class ReceivedFile:
    id: int
    kind: str
    state: str  # STORED, PROCESSED, HANDED_OVER (to the flow that reads its kind), QUARANTINED
    raw_key: str
    new: bool


@dataclass(frozen=True)
class SettlementRecord:
    accounting_no: str
    version: str
    state: str  # CURATED, QUARANTINED
    row_count: int
    sums_minor: dict[str, int]
    curated_path: str | None
    docs_key: str | None
    raw_key: str
    detail: str | None


@dataclass(frozen=True)
class ReconException:
    kind: str
    item_key: str
    state: str
    detail: dict[str, object]
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    resolution: str | None


@dataclass(frozen=True)
class ExceptionsUpdate:
    opened: int
    still_open: int
    resolved: int


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


@dataclass(frozen=True)
class PaymentRecord:
    payment_id: str
    msg_id: str
    end_to_end_id: str
    creditor_name: str
    account_type: str
    account: str
    amount_minor: int
    currency: str
    execution_date: str
    state: PaymentState
    reason_code: str | None
    reason_text: str | None

    def as_row(self) -> dict[str, object]:
        """The payment as finance reads it in a table: account masked, amount exact."""
        return {
            "payment_id": self.payment_id,
            "batch": self.msg_id,
            "creditor": self.creditor_name,
            "account": f"{self.account_type} {mask(self.account)}",
            "execution_date": self.execution_date,
            "amount": f"{from_minor(self.amount_minor, self.currency):f}",
            "currency": self.currency,
            "state": self.state.value,
            "reason": " ".join(filter(None, [self.reason_code, self.reason_text])) or None,
        }


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn) -> None:  # type: ignore[no-untyped-def]
            # Take the write lock at the start: a deferred transaction that reads and then writes
            # fails at once ("database is locked") when another writer got in between, instead of
            # waiting. The register is small; serialising its transactions costs nothing.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


class Register:
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.claims = Claims(self._tx)  # one poll and one send per company at a time
        if migrate:
            self.upgrade()

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to the newest migration (alembic)."""
        # Alembic's command API keeps its context in module globals: two threads upgrading at once (a
        # poll's parallel file tasks each open the register) break each other's ("KeyError: 'script'").
        with _UPGRADE_LOCK:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # -- companies and batches --

    def ensure_company(self, company_id: str, company: Company) -> None:
        with self._tx() as s:
            row = s.get(CompanyRow, company_id)
            if row is None:
                s.add(
                    CompanyRow(
                        id=company_id,
                        legal_name=company.legal_name,
                        org_number=company.org_number,
                        provider_company_id=company.provider_company_id,
                    )
                )
            else:
                row.legal_name, row.provider_company_id = company.legal_name, company.provider_company_id

    def begin_batch(self, msg_id: str, company_id: str, source: str, created_at: datetime) -> BatchRecord:
        """Fix a batch's identity and creation time before its file is built; the existing record when
        the batch is known (a rebuild after a crash then gives the same bytes)."""
        try:
            with self._tx() as s:
                if s.scalar(select(BatchRow).where(BatchRow.msg_id == msg_id)) is None:
                    s.add(
                        BatchRow(
                            msg_id=msg_id,
                            company_id=company_id,
                            source=source,
                            created_at=created_at,
                            state=BatchState.PENDING,
                        )
                    )
        except IntegrityError:
            pass  # another run inserted it first: read theirs
        record = self.batch(msg_id)
        assert record is not None
        return record

    def payments_already_registered(
        self, company_id: str, payment_ids: Iterable[str], msg_id: str
    ) -> dict[str, str]:
        """payment_id → MsgId of the *other* batches that already hold these payment_ids."""
        ids = list(payment_ids)
        found: dict[str, str] = {}
        with self._tx() as s:
            for start in range(0, len(ids), 500):
                rows = s.execute(
                    select(PaymentRow.payment_id, BatchRow.msg_id)
                    .join(BatchRow, PaymentRow.batch_id == BatchRow.id)
                    .where(
                        PaymentRow.company_id == company_id,
                        PaymentRow.payment_id.in_(ids[start : start + 500]),
                    )
                )
                found.update({pid: other for pid, other in rows if other != msg_id})
        return found

    def record_built(
        self,
        msg_id: str,
        *,
        raw: RawObject,
        name: str,
        file_format: str,
        nb_of_txs: int,
        ctrl_sum: str,
        payments: Iterable[tuple[Payment, str, str]],
    ) -> BatchRecord:
        """The file is archived: register it and its payments (state BUILT). A no-op when done before.

        `payments` yields (payment, EndToEndId, PmtInfId).
        """
        try:
            with self._tx() as s:
                batch = s.scalar(select(BatchRow).where(BatchRow.msg_id == msg_id).with_for_update())
                if batch is None:
                    raise RegisterError(f"batch {msg_id} was never begun")
                if batch.state != BatchState.PENDING:
                    return self._batch_record(batch)
                file = s.scalar(
                    select(FileRow).where(FileRow.direction == "outgoing", FileRow.sha256 == raw.sha256)
                )
                if file is None:
                    file = FileRow(
                        company_id=batch.company_id,
                        direction="outgoing",
                        kind=file_format,
                        name=name,
                        raw_key=raw.key,
                        sha256=raw.sha256,
                        size=raw.size,
                        state="BUILT",
                    )
                    s.add(file)
                    s.flush()
                batch.file_id, batch.file_format = file.id, file_format
                batch.nb_of_txs, batch.ctrl_sum, batch.state = nb_of_txs, ctrl_sum, BatchState.BUILT
                s.add(
                    StatusEventRow(batch_id=batch.id, file_id=file.id, from_state="PENDING", to_state="BUILT")
                )
                for payment, e2e, pmt_inf_id in payments:
                    row = PaymentRow(
                        company_id=batch.company_id,
                        payment_id=payment.payment_id,
                        batch_id=batch.id,
                        end_to_end_id=e2e,
                        pmt_inf_id=pmt_inf_id,
                        creditor_name=payment.creditor_name,
                        account_type=payment.account_type.value,
                        account=payment.account,
                        amount_minor=to_minor(payment.amount, payment.currency),
                        currency=payment.currency,
                        execution_date=payment.execution_date,
                        reference=payment.ocr or payment.message,
                        state=PaymentState.BUILT,
                    )
                    s.add(row)
                s.flush()
                s.add_all(
                    StatusEventRow(
                        batch_id=batch.id, payment_id=p.id, file_id=file.id, to_state=PaymentState.BUILT
                    )
                    for p in batch.payments
                )
                return self._batch_record(batch)
        except IntegrityError as exc:
            raise RegisterError(
                f"batch {msg_id}: a payment_id or the file is already registered ({exc.orig})"
            ) from None

    def record_sent(self, msg_id: str, provider_file_id: str, *, detail: str | None = None) -> BatchRecord:
        """The provider holds the file under `provider_file_id`: batch and payments SENT. Idempotent."""
        with self._tx() as s:
            batch = s.scalar(select(BatchRow).where(BatchRow.msg_id == msg_id).with_for_update())
            if batch is None or batch.file is None:
                raise RegisterError(f"batch {msg_id} is not built")
            if batch.state == BatchState.SENT:
                if batch.file.provider_file_id != provider_file_id:
                    raise RegisterError(
                        f"batch {msg_id} was sent as provider file {batch.file.provider_file_id}, not {provider_file_id}"
                    )
                return self._batch_record(batch)
            batch.state = BatchState.SENT
            batch.file.provider_file_id, batch.file.state = provider_file_id, "SENT"
            s.add(
                StatusEventRow(
                    batch_id=batch.id,
                    file_id=batch.file_id,
                    from_state="BUILT",
                    to_state="SENT",
                    detail=detail,
                )
            )
            for p in batch.payments:
                if p.state == PaymentState.BUILT:
                    p.state = PaymentState.SENT
                    s.add(
                        StatusEventRow(
                            batch_id=batch.id,
                            payment_id=p.id,
                            file_id=batch.file_id,
                            from_state="BUILT",
                            to_state="SENT",
                        )
                    )
            return self._batch_record(batch)

    def record_file_status(self, msg_id: str, state: str, detail: str | None = None) -> BatchRecord:
        """The provider's processing status of the sent file (e.g. PROCESSED, ERROR); history kept."""
        with self._tx() as s:
            batch = s.scalar(select(BatchRow).where(BatchRow.msg_id == msg_id))
            if batch is None or batch.file is None:
                raise RegisterError(f"batch {msg_id} is not built")
            if (batch.file.state, batch.file.detail) != (state, detail):
                s.add(
                    StatusEventRow(
                        batch_id=batch.id,
                        file_id=batch.file_id,
                        from_state=batch.file.state,
                        to_state=state,
                        detail=detail,
                    )
                )
                batch.file.state, batch.file.detail = state, detail
            return self._batch_record(batch)

    # -- received files --

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
                    state="STORED",
                )
                s.add(row)
                s.flush()
                return ReceivedFile(row.id, row.kind, row.state, row.raw_key, new=True)
        except IntegrityError:
            with self._tx() as s:
                same = FileRow.sha256 == raw.sha256
                if provider_document_id is not None:
                    same = same | (FileRow.provider_file_id == provider_document_id)
                row = s.scalar(select(FileRow).where(FileRow.direction == "incoming", same))
                assert row is not None
                return ReceivedFile(row.id, row.kind, row.state, row.raw_key, new=False)

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
            return None if row is None else ReceivedFile(row.id, row.kind, row.state, row.raw_key, new=False)

    def apply_status_report(self, file_id: int, report: StatusReport) -> ApplyResult:
        """Apply a pain.002 to its payments, once: a file already PROCESSED changes nothing."""
        return self._apply(file_id, lambda s, f: returns.apply_status_report(s, f, report))

    def apply_account_notification(self, file_id: int, transactions: list[Camt054Transaction]) -> ApplyResult:
        """Apply a camt.054 (bookings, returns, incoming payments), once."""
        return self._apply(
            file_id, lambda s, f: returns.apply_account_notification(s, f, transactions, f.company_id)
        )

    def _apply(self, file_id: int, apply: Callable[[Session, FileRow], ApplyResult]) -> ApplyResult:
        with self._tx() as s:
            file = s.scalar(select(FileRow).where(FileRow.id == file_id).with_for_update())
            if file is None:
                raise RegisterError(f"no received file {file_id}")
            if file.state == "PROCESSED":
                return ApplyResult()
            result = apply(s, file)
            file.state = "PROCESSED"
            file.detail = f"{result.changed} payment(s) changed, {result.incoming} incoming, {len(result.unmatched)} unmatched"
            return result

    def hand_over(self, file_id: int, to: str) -> None:
        """A stored file another flow reads (a settlement report, read by the ingest): the poll is done."""
        with self._tx() as s:
            file = s.get(FileRow, file_id)
            if file is None:
                raise RegisterError(f"no received file {file_id}")
            if file.state == "STORED":
                file.state, file.detail = "HANDED_OVER", f"to {to}"

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
                    FileRow.state.in_(("STORED", "HANDED_OVER")),
                )
                .order_by(FileRow.id)
            )
            return [ReceivedFile(r.id, r.kind, r.state, r.raw_key, new=False) for r in rows]

    def processed(self, file_id: int, detail: str) -> None:
        """A waiting file that needs nothing more (its content was processed from another file)."""
        with self._tx() as s:
            file = s.get(FileRow, file_id)
            if file is not None and file.state in ("STORED", "HANDED_OVER"):
                file.state, file.detail = "PROCESSED", detail[:2000]

    def quarantine(self, file_id: int, reason: str) -> None:
        with self._tx() as s:
            file = s.get(FileRow, file_id)
            if file is not None and file.state != "PROCESSED":
                file.state, file.detail = "QUARANTINED", reason[:2000]

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
                )
                for r in s.scalars(query)
            ]

    # -- settlement reports --

    def settlement(self, accounting_no: str) -> SettlementRecord | None:
        with self._tx() as s:
            row = s.scalar(
                select(SettlementReportRow).where(SettlementReportRow.accounting_no == accounting_no)
            )
            return None if row is None else self._settlement_record(s, row)

    def record_settlement(
        self,
        *,
        accounting_no: str,
        version: str,
        file_id: int,
        state: str,
        row_count: int,
        sums_minor: dict[str, int],
        curated_path: str | None,
        docs_key: str | None,
        detail: str | None = None,
    ) -> SettlementRecord:
        """The outcome of an ingest, for its AccountingNo (a forced re-ingest replaces it). The file's
        state follows: PROCESSED when curated, QUARANTINED when not."""
        with self._tx() as s:
            row = s.scalar(
                select(SettlementReportRow)
                .where(SettlementReportRow.accounting_no == accounting_no)
                .with_for_update()
            )
            if row is None:
                row = SettlementReportRow(accounting_no=accounting_no)
                s.add(row)
            row.version, row.file_id, row.state, row.row_count = version, file_id, state, row_count
            row.sums_minor, row.curated_path, row.docs_key, row.detail = (
                json.dumps(sums_minor, sort_keys=True), curated_path, docs_key, detail,
            )  # fmt: skip
            file = s.get(FileRow, file_id)
            if file is not None:
                file.state = "PROCESSED" if state == "CURATED" else "QUARANTINED"
                file.detail = detail
            s.flush()
            return self._settlement_record(s, row)

    @staticmethod
    def _settlement_record(s: Session, row: SettlementReportRow) -> SettlementRecord:
        file = s.get(FileRow, row.file_id)
        return SettlementRecord(
            accounting_no=row.accounting_no,
            version=row.version,
            state=row.state,
            row_count=row.row_count,
            sums_minor=json.loads(row.sums_minor),
            curated_path=row.curated_path,
            docs_key=row.docs_key,
            raw_key=file.raw_key if file else "",
            detail=row.detail,
        )

    # -- reconciliation exceptions --

    def update_exceptions(
        self,
        kind: str,
        *,
        open_items: dict[str, tuple[str, dict[str, object]]],
        matched_keys: Iterable[str],
        resolution: str,
        now: datetime,
    ) -> ExceptionsUpdate:
        """Carry exceptions forward: `open_items` (key → state, detail) are opened or kept open (first
        seen stays); open exceptions whose key is now in `matched_keys` are resolved with `resolution`."""
        matched = set(matched_keys)
        opened = still = resolved = 0
        with self._tx() as s:
            existing = {
                r.item_key: r
                for r in s.scalars(select(ReconExceptionRow).where(ReconExceptionRow.kind == kind))
            }
            for key, (state, detail) in open_items.items():
                row = existing.get(key)
                if row is None or row.resolved_at is not None:
                    if row is None:
                        row = ReconExceptionRow(kind=kind, item_key=key, first_seen=now)
                        s.add(row)
                    row.resolved_at, row.resolution = None, None
                    opened += 1
                else:
                    still += 1
                row.state, row.detail, row.last_seen = state, json.dumps(detail, default=str), now
            for key, row in existing.items():
                if row.resolved_at is None and key in matched and key not in open_items:
                    row.resolved_at, row.resolution = now, resolution
                    resolved += 1
        return ExceptionsUpdate(opened=opened, still_open=still, resolved=resolved)

    def exceptions(self, kind: str, *, include_resolved: bool = False) -> list[ReconException]:
        with self._tx() as s:
            query = (
                select(ReconExceptionRow).where(ReconExceptionRow.kind == kind).order_by(ReconExceptionRow.id)
            )
            if not include_resolved:
                query = query.where(ReconExceptionRow.resolved_at.is_(None))
            return [
                ReconException(
                    r.kind,
                    r.item_key,
                    r.state,
                    json.loads(r.detail or "{}"),
                    r.first_seen,
                    r.last_seen,
                    r.resolved_at,
                    r.resolution,
                )
                for r in s.scalars(query)
            ]

    # -- reading --

    def batch(self, msg_id: str) -> BatchRecord | None:
        with self._tx() as s:
            row = s.scalar(select(BatchRow).where(BatchRow.msg_id == msg_id))
            return None if row is None else self._batch_record(row)

    def batches(self, company_id: str | None = None) -> list[BatchRecord]:
        with self._tx() as s:
            query = select(BatchRow).order_by(BatchRow.id)
            if company_id:
                query = query.where(BatchRow.company_id == company_id)
            return [self._batch_record(b) for b in s.scalars(query)]

    def payments(self, msg_id: str | None = None, company_id: str | None = None) -> list[PaymentRecord]:
        with self._tx() as s:
            query = select(PaymentRow, BatchRow.msg_id).join(BatchRow).order_by(PaymentRow.id)
            if msg_id:
                query = query.where(BatchRow.msg_id == msg_id)
            if company_id:
                query = query.where(PaymentRow.company_id == company_id)
            return [
                PaymentRecord(
                    payment_id=p.payment_id,
                    msg_id=m,
                    end_to_end_id=p.end_to_end_id,
                    creditor_name=p.creditor_name,
                    account_type=p.account_type,
                    account=p.account,
                    amount_minor=p.amount_minor,
                    currency=p.currency,
                    execution_date=p.execution_date.isoformat(),
                    state=PaymentState(p.state),
                    reason_code=p.reason_code,
                    reason_text=p.reason_text,
                )
                for p, m in s.execute(query)
            ]

    def awaiting_return_report(
        self, executed_on_or_before: date, company_id: str | None = None
    ) -> list[PaymentRecord]:
        """SENT or ACCEPTED payments whose execution date is on or before the given day: the bank should
        have confirmed them by now."""
        states = (PaymentState.SENT, PaymentState.ACCEPTED)
        return [
            p
            for p in self.payments(company_id=company_id)
            if p.state in states and date.fromisoformat(p.execution_date) <= executed_on_or_before
        ]

    def events(self, msg_id: str) -> list[tuple[str | None, str, str | None]]:
        """(from, to, detail) of the batch's and its payments' history, oldest first."""
        with self._tx() as s:
            batch = s.scalar(select(BatchRow).where(BatchRow.msg_id == msg_id))
            if batch is None:
                return []
            rows = s.scalars(
                select(StatusEventRow).where(StatusEventRow.batch_id == batch.id).order_by(StatusEventRow.id)
            )
            return [(e.from_state, e.to_state, e.detail) for e in rows]

    @staticmethod
    def _batch_record(row: BatchRow) -> BatchRecord:
        return BatchRecord(
            msg_id=row.msg_id,
            company=row.company_id,
            source=row.source,
            state=BatchState(row.state),
            created_at=row.created_at,
            raw_key=row.file.raw_key if row.file else None,
            provider_file_id=row.file.provider_file_id if row.file else None,
            file_state=row.file.state if row.file else None,
            nb_of_txs=row.nb_of_txs,
            ctrl_sum=row.ctrl_sum,
        )

"""The payment register's tables (SQLAlchemy 2). Money is integer minor units; times are UTC.

Unique constraints carry the idempotency: a batch per MsgId, a file per sha256 and direction, a
payment per company and payment_id. Status events are append-only history, each with its source file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the register stores aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class BatchState(StrEnum):
    PENDING = "PENDING"  # identity and creation time fixed; the file is being built
    BUILT = "BUILT"  # file built, archived and registered
    AWAITING_APPROVAL = "AWAITING_APPROVAL"  # built, held until a second person approves it
    CANCELLED = "CANCELLED"  # rejected by an approver, or not approved in time: never sent
    SENT = "SENT"  # the provider has the file


class PaymentState(StrEnum):
    BUILT = "BUILT"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    CANCELLED = "CANCELLED"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    BOOKED = "BOOKED"
    REJECTED = "REJECTED"
    RETURNED = "RETURNED"


class FileState(StrEnum):
    """A received file's way through the poll."""

    STORED = "STORED"  # its raw bytes are kept and it is registered, nothing applied yet
    PROCESSED = "PROCESSED"  # applied (status report, notification) or curated (settlement report)
    HANDED_OVER = "HANDED_OVER"  # to the flow that reads its kind (a settlement report: the ingest)
    QUARANTINED = "QUARANTINED"  # refused, with the reason; the raw file stays kept


class ReportState(StrEnum):
    """A settlement report's outcome in the ingest."""

    CURATED = "CURATED"  # valid and written to the curated tables
    QUARANTINED = "QUARANTINED"  # failed its expectations; kept under quarantine/ with the reason


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CompanyRow(Base):
    __tablename__ = "companies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(140))
    org_number: Mapped[str] = mapped_column(String(20))
    provider_company_id: Mapped[str] = mapped_column(String(64))


class FileRow(Base):
    __tablename__ = "files"
    # A received document is processed once: by its bytes and by the provider's id for it. (A unique
    # index rather than a constraint: SQLite adds one without rebuilding the table.)
    __table_args__ = (
        UniqueConstraint("direction", "sha256"),
        Index("uq_files_direction_provider_file_id", "direction", "provider_file_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"))
    direction: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))  # pain.001.001.03, pain.002, camt.054-debit, …
    name: Mapped[str] = mapped_column(String(255))
    raw_key: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    provider_file_id: Mapped[str | None] = mapped_column(String(128), index=True)
    state: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BatchRow(Base):
    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(35), unique=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"))
    source: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the file's CreDtTm
    state: Mapped[str] = mapped_column(String(24))
    file_format: Mapped[str | None] = mapped_column(String(32))
    nb_of_txs: Mapped[int | None] = mapped_column(Integer)
    ctrl_sum: Mapped[str | None] = mapped_column(String(40))  # exact decimal text, as in the file
    file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    file: Mapped[FileRow | None] = relationship()
    payments: Mapped[list[PaymentRow]] = relationship(back_populates="batch", order_by="PaymentRow.id")


class PaymentRow(Base):
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("company_id", "payment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"))
    payment_id: Mapped[str] = mapped_column(String(200))
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35), index=True)
    pmt_inf_id: Mapped[str] = mapped_column(String(35))
    creditor_name: Mapped[str] = mapped_column(String(140))
    account_type: Mapped[str] = mapped_column(String(8))
    account: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    execution_date: Mapped[date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(140))
    state: Mapped[str] = mapped_column(String(24))
    reason_code: Mapped[str | None] = mapped_column(String(35))
    reason_text: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    batch: Mapped[BatchRow] = relationship(back_populates="payments")


class StatusEventRow(Base):
    """Append-only: what changed, from what to what, and which file said so."""

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id"))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    code: Mapped[str | None] = mapped_column(String(35))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApprovalRow(Base):
    """Append-only: a batch's approval asked for, and each decision on it (who, when, what, why)."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # REQUESTED, APPROVED, REJECTED, TIMED_OUT
    by: Mapped[str] = mapped_column(String(200))  # the requester (REQUESTED), else the approver
    comment: Mapped[str | None] = mapped_column(Text)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))  # the run waiting for the decision
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IncomingPaymentRow(Base):
    """Money received (camt.054 credit): one row per transaction, for the rent ledger and reconciliation."""

    __tablename__ = "incoming_payments"
    __table_args__ = (UniqueConstraint("file_id", "entry_no", "tx_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"))
    entry_no: Mapped[int] = mapped_column(Integer)
    tx_no: Mapped[int] = mapped_column(Integer)
    ocr: Mapped[str | None] = mapped_column(String(35), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payer_name: Mapped[str | None] = mapped_column(String(140))
    payer_account: Mapped[str | None] = mapped_column(String(64))
    receiving_account: Mapped[str | None] = mapped_column(String(64))
    booking_date: Mapped[date | None] = mapped_column(Date)
    acct_svcr_ref: Mapped[str | None] = mapped_column(String(64))
    free_text: Mapped[str | None] = mapped_column(Text)
    references: Mapped[str | None] = mapped_column(Text)  # every Strd reference, space-separated (0006)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatementRow(Base):
    """A bank statement (camt.053 Stmt) of an account: its balances and dates, for continuity."""

    __tablename__ = "statements"
    __table_args__ = (UniqueConstraint("company_id", "account", "statement_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id"))
    account: Mapped[str] = mapped_column(String(64))
    statement_key: Mapped[str] = mapped_column(String(128))  # the Stmt's Id, else its account and dates
    currency: Mapped[str | None] = mapped_column(String(3))
    opening_minor: Mapped[int | None] = mapped_column(BigInteger)
    closing_minor: Mapped[int | None] = mapped_column(BigInteger)
    opening_date: Mapped[date | None] = mapped_column(Date)
    closing_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SettlementReportRow(Base):
    """A Swedbank Pay settlement report (one AccountingNo): validated and curated, or quarantined."""

    __tablename__ = "settlement_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    accounting_no: Mapped[str] = mapped_column(String(40), unique=True)
    version: Mapped[str] = mapped_column(String(4))
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id"))
    state: Mapped[str] = mapped_column(String(16))  # CURATED, QUARANTINED
    row_count: Mapped[int] = mapped_column(Integer)
    sums_minor: Mapped[str] = mapped_column(Text)  # JSON {currency: minor units}
    curated_path: Mapped[str | None] = mapped_column(String(512))
    docs_key: Mapped[str | None] = mapped_column(String(512))
    detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ReconExceptionRow(Base):
    """An item reconciliation could not match: open until a later run finds its counterpart."""

    __tablename__ = "recon_exceptions"
    __table_args__ = (UniqueConstraint("kind", "item_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # settlement, incoming
    item_key: Mapped[str] = mapped_column(String(64))  # transaction number, or incoming payment id
    state: Mapped[str] = mapped_column(String(32))  # the reconciliation state that made it an exception
    detail: Mapped[str | None] = mapped_column(Text)  # JSON: amounts, report, age
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)


class ClaimRow(Base):
    """Who may do one kind of work for a company now: a lease that its holder renews while it works.

    A row per (work, company), created on first use and kept; a free claim has no holder. A holder that
    dies stops renewing, and the lease runs out by itself; `token` is new at every taking, so a holder
    whose lease ran out and was taken over finds out at its next renewal.
    """

    __tablename__ = "claims"

    work: Mapped[str] = mapped_column(String(16), primary_key=True)  # poll, send
    company_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(255))
    token: Mapped[str | None] = mapped_column(String(32))
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClaimEventRow(Base):
    """Append-only: a claim taken, taken over from a holder whose lease ran out, released or cleared."""

    __tablename__ = "claim_events"
    __table_args__ = (Index("ix_claim_events_work_company_id", "work", "company_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work: Mapped[str] = mapped_column(String(16))
    company_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # TAKEN, TAKEN_OVER, RELEASED, CLEARED
    holder: Mapped[str | None] = mapped_column(String(255))  # the holder the action concerns
    by: Mapped[str | None] = mapped_column(String(255))  # who acted, when not the holder (an operator)
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

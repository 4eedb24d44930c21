"""Batches and their payments: built, archived, sent, followed to every payment's final state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paydag.identifiers import mask
from paydag.money import from_minor, to_minor
from paydag.payables import Payment
from paydag.register.database import RegisterBase, RegisterError, serialise_company
from paydag.register.models import (
    BatchRow,
    BatchState,
    CompanyRow,
    FileRow,
    PaymentRow,
    PaymentState,
    StatusEventRow,
)
from paydag.settings import Company
from paydag.storage import RawObject


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
    pmt_inf_id: str | None = None

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


@dataclass(frozen=True)
class EarlierPayment:
    """A payment the register holds, as the checks before a batch leaves compare with it."""

    payment_id: str
    msg_id: str
    account: str
    creditor_name: str
    amount_minor: int
    currency: str
    execution_date: date
    reference: str | None  # the OCR or RF reference, else the message
    state: PaymentState


@dataclass(frozen=True)
class PayeeHistory:
    """What a company has paid before: every payment to the accounts asked about, and every pair of
    creditor name and account it ever paid (a supplier list is short, a payment history is not)."""

    earlier: list[EarlierPayment]
    payees: set[tuple[str, str]]


class Batches(RegisterBase):
    """The send lifecycle: company, batch, payments, the provider file's status."""

    def ensure_company(self, company_id: str, company: Company) -> None:
        """The company's row, made or brought up to date. Safe when several tasks of a first poll make it
        at once: the one that loses the insert updates the winner's row."""
        for attempt in (1, 2):
            try:
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
                        row.legal_name, row.provider_company_id = (
                            company.legal_name,
                            company.provider_company_id,
                        )
                return
            except IntegrityError:  # another task inserted it between our look and our insert: update theirs
                if attempt == 2:
                    raise

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

    def payee_history(self, company_id: str, accounts: Iterable[str]) -> PayeeHistory:
        """The company's earlier payments to `accounts` (any state, any batch) and its payees."""
        wanted = sorted(set(accounts))
        earlier: list[EarlierPayment] = []
        with self._tx() as s:
            for start in range(0, len(wanted), 500):
                rows = s.execute(
                    select(PaymentRow, BatchRow.msg_id)
                    .join(BatchRow, PaymentRow.batch_id == BatchRow.id)
                    .where(
                        PaymentRow.company_id == company_id,
                        PaymentRow.account.in_(wanted[start : start + 500]),
                    )
                    .order_by(PaymentRow.id)
                )
                earlier += [
                    EarlierPayment(
                        payment_id=p.payment_id, msg_id=msg_id, account=p.account, creditor_name=p.creditor_name,
                        amount_minor=p.amount_minor, currency=p.currency, execution_date=p.execution_date,
                        reference=p.reference, state=PaymentState(p.state),
                    )
                    for p, msg_id in rows
                ]  # fmt: skip
            payees = s.execute(
                select(PaymentRow.creditor_name, PaymentRow.account)
                .where(PaymentRow.company_id == company_id)
                .distinct()
            )
            return PayeeHistory(earlier, {(name, account) for name, account in payees})

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
                file = _outgoing_file(s, batch.company_id, raw, name=name, file_format=file_format)
                batch.file_id, batch.file_format = file.id, file_format
                batch.nb_of_txs, batch.ctrl_sum, batch.state = nb_of_txs, ctrl_sum, BatchState.BUILT
                s.add(
                    StatusEventRow(batch_id=batch.id, file_id=file.id, from_state="PENDING", to_state="BUILT")
                )
                # payment_id → (code, detail) of its BUILT event: why a duplicate is paid all the same,
                # and what the checks before sending flagged
                noted: dict[str, tuple[str, str]] = {}
                for payment, e2e, pmt_inf_id in payments:
                    s.add(_payment_row(batch, payment, e2e, pmt_inf_id))
                    if payment.allow_duplicate or payment.flags:
                        code = "ALLOWED_DUPLICATE" if payment.allow_duplicate else "FLAGGED"
                        noted[payment.payment_id] = (
                            code,
                            "; ".join(filter(None, [payment.allow_duplicate, *payment.flags])),
                        )
                s.flush()
                s.add_all(
                    StatusEventRow(
                        batch_id=batch.id, payment_id=p.id, file_id=file.id, to_state=PaymentState.BUILT,
                        code=noted.get(p.payment_id, (None, None))[0],
                        detail=noted.get(p.payment_id, (None, None))[1],
                    )
                    for p in batch.payments
                )  # fmt: skip
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
            serialise_company(s, batch.company_id)  # a poll may be applying an answer to these payments
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
            return [_payment_record(p, m) for p, m in s.execute(query)]

    def recent_payments(self, company_id: str, since: datetime) -> list[tuple[PaymentRecord, str | None]]:
        """Every payment of the company's batches created since `since`, newest batch first, each with
        the name of the file that last changed it (its own pain.001, or a bank file)."""
        last = (
            select(StatusEventRow.payment_id, func.max(StatusEventRow.id).label("event_id"))
            .where(StatusEventRow.payment_id.is_not(None), StatusEventRow.file_id.is_not(None))
            .group_by(StatusEventRow.payment_id)
            .subquery()
        )
        query = (
            select(PaymentRow, BatchRow.msg_id, FileRow.name)
            .join(BatchRow, PaymentRow.batch_id == BatchRow.id)
            .outerjoin(last, last.c.payment_id == PaymentRow.id)
            .outerjoin(StatusEventRow, StatusEventRow.id == last.c.event_id)
            .outerjoin(FileRow, FileRow.id == StatusEventRow.file_id)
            .where(PaymentRow.company_id == company_id, BatchRow.created_at >= since)
            .order_by(BatchRow.created_at.desc(), PaymentRow.id)
        )
        with self._tx() as s:
            return [(_payment_record(p, msg_id), file_name) for p, msg_id, file_name in s.execute(query)]

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


def _outgoing_file(s: Session, company_id: str, raw: RawObject, *, name: str, file_format: str) -> FileRow:
    """The outgoing file with these bytes, registered now if it is not yet."""
    file = s.scalar(select(FileRow).where(FileRow.direction == "outgoing", FileRow.sha256 == raw.sha256))
    if file is None:
        file = FileRow(company_id=company_id, direction="outgoing", kind=file_format, name=name, raw_key=raw.key,
                       sha256=raw.sha256, size=raw.size, state="BUILT")  # fmt: skip
        s.add(file)
        s.flush()
    return file


def _payment_row(batch: BatchRow, payment: Payment, end_to_end_id: str, pmt_inf_id: str) -> PaymentRow:
    return PaymentRow(
        company_id=batch.company_id, payment_id=payment.payment_id, batch_id=batch.id, end_to_end_id=end_to_end_id,
        pmt_inf_id=pmt_inf_id, creditor_name=payment.creditor_name, account_type=payment.account_type.value,
        account=payment.account, amount_minor=to_minor(payment.amount, payment.currency), currency=payment.currency,
        execution_date=payment.execution_date, reference=payment.ocr or payment.message, state=PaymentState.BUILT,
    )  # fmt: skip


def _payment_record(p: PaymentRow, msg_id: str) -> PaymentRecord:
    return PaymentRecord(
        payment_id=p.payment_id,
        msg_id=msg_id,
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
        pmt_inf_id=p.pmt_inf_id,
    )

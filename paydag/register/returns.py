"""What the bank's answers do to payments: pain.002 statuses, camt.054 bookings and returns, incoming
payments. Transitions are monotonic and idempotent, and every change is an event naming its file.

Order of states: BUILT → SENT → ACCEPTED → BOOKED; REJECTED and RETURNED are final (a reject never
reverts, and a return reopens even a booked payment). A camt.054 debit that arrives before the
pain.002 still ends BOOKED, because a later ACCEPTED ranks lower and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from paydag.formats.camt054 import Camt054Transaction
from paydag.formats.pain002 import StatusReason, StatusReport, TransactionStatus
from paydag.register.models import (
    BatchRow,
    FileRow,
    IncomingPaymentRow,
    PaymentRow,
    PaymentState,
    StatusEventRow,
)

RANK = {PaymentState.BUILT: 0, PaymentState.SENT: 1, PaymentState.ACCEPTED: 2, PaymentState.BOOKED: 3}
FINAL = {PaymentState.REJECTED, PaymentState.RETURNED}

# pain.002 statuses (open strings: v10 adds codes) → our state; absent codes change nothing (ACTC,
# RCVD, PDNG, PART: technical acceptance, pending, or "look at the transactions").
STATUS_TARGET = {
    "ACCP": PaymentState.ACCEPTED,
    "ACSP": PaymentState.ACCEPTED,
    "ACWC": PaymentState.ACCEPTED,
    "ACFC": PaymentState.ACCEPTED,
    "ACCC": PaymentState.ACCEPTED,
    "ACWP": PaymentState.ACCEPTED,
    "ACSC": PaymentState.BOOKED,
    "RJCT": PaymentState.REJECTED,
}


# Payee-name check statuses in pain.002 (Verification of Payee): recorded, never a rejection.
NAME_CHECK = {
    "RCVC": "the name matches",
    "RVMC": "close match: the bank suggests another name",
    "RVNM": "no match",
    "RVNA": "the check could not be made",
}


@dataclass
class ApplyResult:
    """What one file did: payments changed, rows it could not place, incoming payments recorded."""

    changed: int = 0
    unmatched: list[str] = field(default_factory=list)
    incoming: int = 0
    fuzzy: int = 0
    rejected_or_returned: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)


def may_move(current: PaymentState, target: PaymentState) -> bool:
    if current == target or current in FINAL:
        return False
    if target is PaymentState.REJECTED:
        return current is not PaymentState.BOOKED  # booked means executed: a late reject is contradictory
    if target is PaymentState.RETURNED:
        return True
    return RANK[target] > RANK[current]


def _move(
    s: Session,
    payment: PaymentRow,
    target: PaymentState,
    file: FileRow,
    result: ApplyResult,
    *,
    code: str | None = None,
    text: str | None = None,
    detail: str | None = None,
) -> None:
    current = PaymentState(payment.state)
    if not may_move(current, target):
        return
    payment.state = target
    if target in FINAL:
        payment.reason_code, payment.reason_text = code, text
        result.rejected_or_returned.append((payment.payment_id, target.value, code, text))
    s.add(
        StatusEventRow(
            batch_id=payment.batch_id,
            payment_id=payment.id,
            file_id=file.id,
            from_state=current.value,
            to_state=target.value,
            code=code,
            detail=" ".join(filter(None, [text, detail])) or None,
        )
    )
    result.changed += 1


def _first(*groups: tuple[StatusReason, ...]) -> tuple[str | None, str | None]:
    for reasons in groups:
        if reasons:
            return reasons[0].label, reasons[0].text
    return None, None


def apply_status_report(s: Session, file: FileRow, report: StatusReport) -> ApplyResult:
    result = ApplyResult()
    batch = s.scalar(select(BatchRow).where(BatchRow.msg_id == report.original_msg_id))
    if batch is None:
        result.unmatched.append(f"OrgnlMsgId {report.original_msg_id}: no such batch")
        return result
    payments = list(batch.payments)
    group_target = STATUS_TARGET.get(report.group_status or "")
    group_code, group_text = _first(report.group_reasons)

    # DU01 refuses a *second* submission of a message id. When the bank already accepted or booked
    # payments of this message, the reject is about that duplicate, not about them.
    if group_code == "DU01" and any(
        RANK.get(PaymentState(p.state), 0) >= RANK[PaymentState.ACCEPTED] for p in payments
    ):
        result.unmatched.append(
            f"OrgnlMsgId {report.original_msg_id}: DU01 for a duplicate submission; payments unchanged"
        )
        return result

    # A group-level RJCT rejects every payment of the message; any other group status covers the
    # payments only when the report goes no deeper.
    if group_target is PaymentState.REJECTED or (group_target and not report.payment_infos):
        for p in payments:
            _move(s, p, group_target, file, result, code=group_code, text=group_text)

    by_id = _payments_by_id(batch.msg_id, payments)
    for info in report.payment_infos:
        in_info = [p for p in payments if p.pmt_inf_id == info.original_pmt_inf_id]
        if not in_info:
            result.unmatched.append(f"OrgnlPmtInfId {info.original_pmt_inf_id}: not in batch {batch.msg_id}")
            continue
        info_target = STATUS_TARGET.get(info.status or "")
        info_code, info_text = _first(info.reasons, report.group_reasons)
        if info_target is PaymentState.REJECTED or (info_target and not info.transactions):
            for p in in_info:
                _move(s, p, info_target, file, result, code=info_code, text=info_text)
        for tx in info.transactions:
            payment = next(
                (
                    by_id[i]
                    for i in (tx.original_end_to_end_id, tx.original_instr_id, tx.original_uetr)
                    if i in by_id
                ),
                None,
            )  # the EndToEndId first, then the InstrId and the UETR (banks answer by either)
            if payment is None or payment.pmt_inf_id != info.original_pmt_inf_id:
                named = tx.original_end_to_end_id or tx.original_instr_id or tx.original_uetr
                result.unmatched.append(
                    f"OrgnlEndToEndId/InstrId/UETR {named}: not in {info.original_pmt_inf_id}"
                )
                continue
            if (tx.status or "") in NAME_CHECK:
                _name_check(s, payment, tx, file)
            target = STATUS_TARGET.get(tx.status or info.status or "")
            if target:
                code, text = _first(tx.reasons, info.reasons)
                _move(s, payment, target, file, result, code=code, text=text)
    return result


def _payments_by_id(msg_id: str, payments: list[PaymentRow]) -> dict[str, PaymentRow]:
    """Each payment under every id a bank may answer with: EndToEndId, InstrId, UETR (the last two are
    derived from the MsgId and the EndToEndId, as the file wrote them)."""
    from paydag.formats.pain001 import instruction_id, uetr

    out: dict[str, PaymentRow] = {}
    for p in payments:
        for key in (p.end_to_end_id, instruction_id(msg_id, p.end_to_end_id), uetr(msg_id, p.end_to_end_id)):
            out.setdefault(key, p)
    return out


def _name_check(s: Session, payment: PaymentRow, tx: TransactionStatus, file: FileRow) -> None:
    """A payee-name check's outcome (Verification of Payee): an event on the payment, never a change
    of its state; only RJCT rejects."""
    status = tx.status or ""
    code, text = _first(tx.reasons)
    s.add(
        StatusEventRow(
            batch_id=payment.batch_id, payment_id=payment.id, file_id=file.id, from_state=payment.state,
            to_state=payment.state, code=status,
            detail=f"name check {status} ({NAME_CHECK[status]})" + (f": {code} {text or ''}".rstrip() if code else ""),
        )
    )  # fmt: skip


def apply_account_notification(
    s: Session, file: FileRow, transactions: list[Camt054Transaction], company_id: str
) -> ApplyResult:
    """camt.054: debits book (or return) our payments; credits are returns of them or incoming money."""
    result = ApplyResult()
    for tx in transactions:
        if tx.status not in (None, "BOOK"):
            continue  # pending or information only: nothing has happened to the money yet
        where = f"Ntry #{tx.entry} TxDtls #{tx.transaction}"
        is_return = bool(tx.return_reason) or tx.reversal
        payment = _ours_by_end_to_end_id(s, company_id, tx.end_to_end_id)
        if is_return and payment is not None:
            _move(
                s,
                payment,
                PaymentState.RETURNED,
                file,
                result,
                code=tx.return_reason,
                detail=f"returned ({where})",
            )
        elif tx.credit_debit == "DBIT":
            _book(s, file, tx, company_id, result, payment, where)
        elif tx.amount_source == "entry total" and tx.transaction > 1:
            # The bank listed the entry's transactions without their amounts: the entry is one incoming
            # payment (its first TxDtls, with the entry's total), never one per transaction.
            result.unmatched.append(
                f"{where}: part of entry #{tx.entry}'s total, listed without its own amount"
            )
        else:
            _incoming(s, file, tx, company_id, result)
    return result


def _ours_by_end_to_end_id(s: Session, company_id: str, e2e: str | None) -> PaymentRow | None:
    if not e2e or e2e.upper() == "NOTPROVIDED":
        return None
    return s.scalar(
        select(PaymentRow).where(PaymentRow.company_id == company_id, PaymentRow.end_to_end_id == e2e)
    )


def _book(
    s: Session,
    file: FileRow,
    tx: Camt054Transaction,
    company_id: str,
    result: ApplyResult,
    payment: PaymentRow | None,
    where: str,
) -> None:
    if payment is not None:
        _move(s, payment, PaymentState.BOOKED, file, result, detail=f"booked {tx.booking_date} ({where})")
        return
    msg_id, pmt_inf_id = tx.msg_id or tx.batch_msg_id, tx.pmt_inf_id or tx.batch_pmt_inf_id
    if msg_id and pmt_inf_id:  # batch booking: one entry per PmtInf
        batch = s.scalar(select(BatchRow).where(BatchRow.msg_id == msg_id, BatchRow.company_id == company_id))
        members = [p for p in (batch.payments if batch else []) if p.pmt_inf_id == pmt_inf_id]
        if members and sum(p.amount_minor for p in members) == tx.amount_minor:
            for p in members:
                _move(
                    s,
                    p,
                    PaymentState.BOOKED,
                    file,
                    result,
                    detail=f"batch booked {tx.booking_date} ({where})",
                )
            return
    # Last resort, recorded as such: one open payment of this amount, currency and date (and account).
    candidates = list(
        s.scalars(
            select(PaymentRow).where(
                PaymentRow.company_id == company_id,
                PaymentRow.amount_minor == tx.amount_minor,
                PaymentRow.currency == tx.currency,
                PaymentRow.state.in_([PaymentState.SENT, PaymentState.ACCEPTED]),
                PaymentRow.execution_date == _date(tx.booking_date),
            )
        )
    )
    if tx.creditor_account:
        candidates = [p for p in candidates if p.account.endswith(tx.creditor_account.replace(" ", ""))]
    if len(candidates) == 1:
        _move(s, candidates[0], PaymentState.BOOKED, file, result, code="FUZZY",
              detail=f"fuzzy match on amount, currency, date{' and account' if tx.creditor_account else ''} ({where})")  # fmt: skip
        result.fuzzy += 1
    else:
        result.unmatched.append(
            f"{where}: debit {tx.amount_minor} {tx.currency} EndToEndId {tx.end_to_end_id}: "
            f"{len(candidates)} candidate payments"
        )


def _incoming(
    s: Session, file: FileRow, tx: Camt054Transaction, company_id: str, result: ApplyResult
) -> None:
    exists = s.scalar(
        select(IncomingPaymentRow.id).where(
            IncomingPaymentRow.file_id == file.id,
            IncomingPaymentRow.entry_no == tx.entry,
            IncomingPaymentRow.tx_no == tx.transaction,
        )
    )
    if exists or _recorded_before(s, file, company_id, tx):
        return
    s.add(
        IncomingPaymentRow(
            company_id=company_id,
            file_id=file.id,
            entry_no=tx.entry,
            tx_no=tx.transaction,
            ocr=tx.ocr,
            amount_minor=tx.amount_minor,
            currency=tx.currency,
            payer_name=tx.payer_name,
            payer_account=tx.payer_account,
            receiving_account=tx.creditor_account or tx.account,
            booking_date=_date(tx.booking_date),
            acct_svcr_ref=tx.acct_svcr_ref or tx.entry_acct_svcr_ref,
            free_text=tx.free_text,
            references=" ".join(r.split(":", 1)[1] for r in tx.references) or None,
        )
    )
    result.incoming += 1


def _recorded_before(s: Session, file: FileRow, company_id: str, tx: Camt054Transaction) -> bool:
    """Whether a statement's (camt.053) credit was recorded already from a notification (camt.054):
    a day's statement repeats what its notifications said. Known by the bank's reference, the amount
    and the booking day. Only for statements: two notifications with the same values are two payments
    (a tenant paying one OCR twice is a duplicate payment to report, not one to drop)."""
    reference = tx.acct_svcr_ref or tx.entry_acct_svcr_ref
    if not reference or not file.kind.startswith("camt.053"):
        return False
    found = s.scalar(
        select(IncomingPaymentRow.id)
        .where(
            IncomingPaymentRow.company_id == company_id,
            IncomingPaymentRow.file_id != file.id,  # within a file, (entry, TxDtls) tells them apart
            IncomingPaymentRow.acct_svcr_ref == reference,
            IncomingPaymentRow.amount_minor == tx.amount_minor,
            IncomingPaymentRow.booking_date == _date(tx.booking_date),
        )
        .limit(1)
    )
    return found is not None


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None

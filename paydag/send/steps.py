"""Sending a payables batch exactly once: the steps the `send-payment-file` flow runs, one function each.

Each step can be run again after a crash anywhere and gives the same result:
- the batch's MsgId comes from its payments, and its creation time is fixed in the register before the
  file is built, so a rebuild gives the same bytes (and the archive put is a no-op);
- the register refuses a payment_id that another batch already holds;
- before any upload the provider is asked for a file with senderReference = MsgId, and an upload whose
  answer was lost is never repeated blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from paydag.formats.bank_profiles import BankProfile
from paydag.formats.pain001 import BuiltPain001, Pain001Version, build_pain001, message_id
from paydag.payables import PaymentBatch, RowIssue, ValidationReport, load_batch
from paydag.providers.channel import FileStatus, PaymentChannel, SendMode
from paydag.register import BatchRecord, BatchState, Register
from paydag.send.controls import DEFAULT_CONTROLS, Controls, apply_controls
from paydag.settings import Company
from paydag.storage import Direction, RawObject, RawStore
from paydag.storage.journal import BatchEvent, as_body, record


class BatchInvalid(Exception):
    """The payables batch has invalid rows and may not be sent; `report` lists every one."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(
            f"{report.source}: {len(report.invalid_payment_ids)} invalid payment(s): "
            + ", ".join(report.invalid_payment_ids[:20])
        )
        self.report = report


class BatchNotApproved(Exception):
    """The batch waits for approval, or was rejected or not approved in time: it may not be sent."""


@dataclass(frozen=True)
class SendOutcome:
    msg_id: str
    provider_file_id: str
    uploaded: bool  # False when the provider already had the file (a rerun, or a lost answer)


def validated_batch(
    payables: Path,
    *,
    company_id: str,
    profile: BankProfile,
    register: Register,
    today: date,
    now: datetime | None = None,
    allow_partial: bool = False,
    move_to_next_bank_day: bool = False,
    controls: Controls = DEFAULT_CONTROLS,
) -> tuple[PaymentBatch, ValidationReport]:
    """Read and validate the payables (as of `now`, with the bank's cut-offs, when given), refusing
    payment_ids that another batch already holds and holding what the checks against the company's
    earlier payments hold (`controls`)."""
    batch, report = load_batch(
        payables, company=company_id, profile=profile, today=today, now=now, allow_partial=True,
        move_to_next_bank_day=move_to_next_bank_day,
    )  # fmt: skip
    if batch is not None:
        taken = register.payments_already_registered(
            company_id, (p.payment_id for p in batch.payments), message_id(batch)
        )
        if taken:
            for p in batch.payments:
                if p.payment_id in taken:
                    report.errors.append(
                        RowIssue(
                            p.row, p.payment_id, "payment_id", f"already sent in batch {taken[p.payment_id]}"
                        )
                    )
            report.errors.sort(key=lambda e: (e.row, e.field))
            kept = tuple(p for p in batch.payments if p.payment_id not in taken)
            batch = PaymentBatch(batch.company, batch.source, kept) if kept else None
    if batch is not None:
        history = register.payee_history(company_id, (p.account for p in batch.payments))
        batch = apply_controls(batch, report, history, controls)
    if batch is None or (report.errors and not allow_partial):
        raise BatchInvalid(report)
    return batch, report


def build_batch_file(
    batch: PaymentBatch,
    *,
    company_id: str,
    company: Company,
    profile: BankProfile,
    register: Register,
    workdir: Path,
    version: Pain001Version = Pain001Version.V03,
    now: datetime | None = None,
) -> BuiltPain001:
    """Fix the batch in the register (PENDING), then build its file with the registered creation time."""
    register.ensure_company(company_id, company)
    msg_id = message_id(batch)
    record = register.begin_batch(msg_id, company_id, batch.source, now or datetime.now(UTC))
    return build_pain001(
        batch,
        company=company,
        profile=profile,
        out=workdir / f"{msg_id}.xml",
        version=version,
        created_at=record.created_at,
    )


def archive_file(built: BuiltPain001, *, company_id: str, raw_store: RawStore) -> RawObject:
    """Keep the file in the raw store (`outgoing/`): write-once, so a second put is a no-op."""
    return raw_store.put(
        Direction.OUTGOING,
        company_id,
        built.path.name,
        built.path.read_bytes(),
        source="send-payment-file",
        content_type="application/xml",
        at=built.created_at,
    )


def register_built(
    register: Register,
    built: BuiltPain001,
    raw: RawObject,
    batch: PaymentBatch,
    *,
    raw_store: RawStore | None = None,
) -> BatchRecord:
    """Register the archived file and its payments (BUILT), and keep the batch's record beside the file
    (what a replay registers it from)."""
    file_format = f"pain.001.001.{built.version.value}"
    done = register.record_built(
        built.msg_id,
        raw=raw,
        name=built.path.name,
        file_format=file_format,
        nb_of_txs=built.nb_of_txs,
        ctrl_sum=f"{built.ctrl_sum:f}",
        payments=((p, built.end_to_end_id(p), built.pmt_inf_id(p)) for p in batch.payments),
    )
    record(raw_store, batch.company, built.msg_id, BatchEvent.BUILT, {
        "file_key": raw.key, "name": built.path.name, "file_format": file_format, "source": batch.source,
        "created_at": built.created_at.isoformat(), "nb_of_txs": built.nb_of_txs,
        "ctrl_sum": f"{built.ctrl_sum:f}",
        "payments": [as_body(p) | {"end_to_end_id": built.end_to_end_id(p), "pmt_inf_id": built.pmt_inf_id(p)}
                     for p in batch.payments],
    }, at=built.created_at)  # fmt: skip
    return done


def deliver(
    msg_id: str,
    *,
    company: Company,
    register: Register,
    raw_store: RawStore,
    channel: PaymentChannel,
    send_mode: SendMode,
    document_type: str,
) -> SendOutcome:
    """Hand the archived file to the provider once: the register and the provider are asked first."""
    record = register.batch(msg_id)
    if record is None or record.raw_key is None:
        raise RuntimeError(f"batch {msg_id} is not built and archived")
    if record.state is BatchState.SENT and record.provider_file_id:
        _journal_sent(raw_store, record.company, msg_id, record.provider_file_id, None)
        return SendOutcome(msg_id, record.provider_file_id, uploaded=False)
    if record.state in (BatchState.AWAITING_APPROVAL, BatchState.CANCELLED):  # never sent unapproved
        raise BatchNotApproved(f"batch {msg_id} is {record.state.value}: it may not be sent")
    found = channel.find_by_sender_reference(msg_id, company.provider_company_id)
    if found is not None:
        detail = "found at the provider by senderReference"
        register.record_sent(msg_id, found.id, detail=detail)
        _journal_sent(raw_store, record.company, msg_id, found.id, detail)
        return SendOutcome(msg_id, found.id, uploaded=False)
    file_id = channel.upload(
        raw_store.read(record.raw_key),
        Path(record.raw_key).name.split("-", 1)[-1],
        sender_reference=msg_id,
        company_id=company.provider_company_id,
        document_type=document_type,
        send_mode=send_mode,
    )
    register.record_sent(msg_id, file_id)
    _journal_sent(raw_store, record.company, msg_id, file_id, None)
    return SendOutcome(msg_id, file_id, uploaded=True)


def _journal_sent(
    raw_store: RawStore, company_id: str, msg_id: str, provider_file_id: str, detail: str | None
) -> None:
    # no time in it: a rerun that finds the batch sent writes the same record, a no-op
    record(
        raw_store,
        company_id,
        msg_id,
        BatchEvent.SENT,
        {"provider_file_id": provider_file_id, "detail": detail},
    )


def follow_status(
    msg_id: str, *, register: Register, channel: PaymentChannel, raw_store: RawStore | None = None
) -> FileStatus:
    """The provider's processing status of the sent file, recorded in the register (and the journal)."""
    batch = register.batch(msg_id)
    if batch is None or batch.provider_file_id is None:
        raise RuntimeError(f"batch {msg_id} has not been sent")
    status = channel.status(batch.provider_file_id)
    state, detail = f"PROVIDER_{status.state}", "; ".join(status.errors) or None
    register.record_file_status(msg_id, state, detail)
    record(raw_store, batch.company, msg_id, BatchEvent.STATUS, {"state": state, "detail": detail})
    return status

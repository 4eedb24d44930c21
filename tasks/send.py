"""Tasks of the send flow: each one step of `paydag.send`, with its retries and artifacts.

Every task that touches the outside world has NO_CACHE: a cached "success" must never stand in for an
upload. Idempotency comes from the register and the provider lookup, not from Prefect.
"""

from __future__ import annotations

import tempfile
from contextlib import closing
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.input import RunInput
from prefect.runtime import flow_run

from paydag import send
from paydag.bankdays import local_moment
from paydag.formats.bank_profiles import bank_profile
from paydag.formats.pain001 import BuiltPain001, Pain001Version
from paydag.money import from_minor
from paydag.payables import PaymentBatch
from paydag.providers.channel import FileStatus, SendMode
from paydag.register import BatchState, Decision
from paydag.send import approval
from paydag.send.approval import approval_timeout
from paydag.send.controls import HELD_FOR_APPROVAL
from paydag.storage import RawObject, fetch_input
from tasks import resources
from tasks.retry import io_task


def _artifact_key(kind: str, company: str) -> str:
    return f"{kind}-{company}".lower().replace("_", "-")


@task(name="validate-payables", cache_policy=NO_CACHE)
def validate_payables(
    payables: str, company: str, allow_partial: bool, move_to_next_bank_day: bool = False, as_of: str = ""
) -> tuple[PaymentBatch, list[dict[str, object]]]:
    """Read and validate the payables as of now, or `as_of` (cut-offs included); publish the bad rows
    and fail when the batch may not be sent."""
    s = resources.settings()
    company_cfg = s.company(company)
    now = local_moment(as_of, s.timezone) if as_of else datetime.now(ZoneInfo(s.timezone))
    s.home.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=s.home) as workdir, closing(resources.register()) as register:
            batch, report = send.validated_batch(
                fetch_input(payables, Path(workdir)),
                company_id=company,
                profile=bank_profile(company_cfg.bank_profile),
                register=register,
                today=now.date(),
                now=now,
                allow_partial=allow_partial,
                move_to_next_bank_day=move_to_next_bank_day,
                controls=send.Controls(
                    company_cfg.duplicate_window_days,
                    company_cfg.new_payee_accounts,
                    approval_available=bool(company_cfg.approvers),
                ),
            )
    except send.BatchInvalid as exc:
        _publish_bad_rows(exc.report.errors, company)
        raise
    if report.errors:
        _publish_bad_rows(report.errors, company)
        get_run_logger().warning("left out %d invalid payment(s)", len(report.invalid_payment_ids))
    if report.warnings:  # values the file says otherwise than the row: transliterations
        create_table_artifact(
            key=_artifact_key("payables-warnings", company), table=[w.as_dict() for w in report.warnings],
            description="Values written otherwise than the ERP exported them (the bank's character set).",
        )  # fmt: skip
        for w in report.warnings:
            get_run_logger().warning("row %s payment %s: %s: %s", w.row, w.payment_id, w.field, w.reason)
    return batch, [w.as_dict() for w in report.warnings]  # what the checks flagged, for the approvers


def _publish_bad_rows(errors: list, company: str) -> None:
    create_table_artifact(
        key=_artifact_key("payables-errors", company),
        table=[e.as_dict() for e in errors],
        description="Rows of the payables batch that failed validation: fix them in the ERP and export again.",
    )


@task(name="build-pain001", cache_policy=NO_CACHE)
def build_file(batch: PaymentBatch, company: str, file_format: str) -> BuiltPain001:
    """Build the batch's pain.001 (XSD-checked) with the creation time fixed in the register."""
    s = resources.settings()
    company_cfg = s.company(company)
    with closing(resources.register()) as register:
        return send.build_batch_file(
            batch,
            company_id=company,
            company=company_cfg,
            profile=bank_profile(company_cfg.bank_profile),
            register=register,
            workdir=s.home / "outgoing",
            version=Pain001Version(file_format),
        )


@io_task("archive-file")
def archive_file(built: BuiltPain001, company: str) -> RawObject:
    """Keep the built file in the raw store before anything else happens to it."""
    raw = send.archive_file(built, company_id=company, raw_store=resources.raw_store())
    get_run_logger().info("archived %s", raw.key)
    return raw


@io_task("register-built")
def register_built(built: BuiltPain001, raw: RawObject, batch: PaymentBatch) -> str:
    with closing(resources.register()) as register:
        return send.register_built(register, built, raw, batch, raw_store=resources.raw_store()).state.value


class Approval(RunInput):
    """The form a run waiting for approval shows in the Prefect UI (and what `paydag approve` sends)."""

    approver: str
    approve: bool
    comment: str = ""


@task(name="ask-approval", cache_policy=NO_CACHE)
def ask_approval(
    msg_id: str, batch: PaymentBatch, company: str, requested_by: str, flags: list[dict[str, object]]
) -> BatchState:
    """Ask for approval where the company wants it (`approval.ask`); a batch that waits is published
    for the approvers with what the checks flagged."""
    held = any(str(f["reason"]).startswith(HELD_FOR_APPROVAL) for f in flags)
    with closing(resources.register()) as register:
        state = approval.ask(
            register, msg_id, batch, resources.settings().company(company), requested_by=requested_by,
            flow_run_id=str(flow_run.id) if flow_run.id else None, held=held, raw_store=resources.raw_store(),
        )  # fmt: skip
        payments = register.payments(msg_id)
    if state is BatchState.AWAITING_APPROVAL:
        _publish_for_approval(msg_id, company, requested_by, payments, flags)
    return state


def _publish_for_approval(msg_id: str, company: str, requested_by: str, payments: list, flags: list) -> None:
    totals: dict[str, Decimal] = {}
    for p in payments:
        totals[p.currency] = totals.get(p.currency, Decimal(0)) + from_minor(p.amount_minor, p.currency)
    create_table_artifact(
        key=_artifact_key("approval", company), table=[p.as_row() for p in payments],
        description=f"Batch {msg_id} waits for approval: its payments (accounts masked)",
    )  # fmt: skip
    create_markdown_artifact(
        key=_artifact_key("approval-summary", company),
        markdown=(
            f"### Batch {msg_id} waits for approval\n\nAsked for by **{requested_by or 'unknown'}**. "
            f"{len(payments)} payment(s): "
            + ", ".join(f"{t:f} {c}" for c, t in sorted(totals.items()))
            + ".\n\nApprove or reject it with the run's **Resume** form (approver, approve, comment), or "
            f"`paydag approve {msg_id} --as NAME` / `paydag reject {msg_id} --as NAME --reason TEXT`.\n\n"
            + (
                f"**What the checks flagged ({len(flags)}):**\n\n"
                + "\n".join(f"- row {f['row']} {f['payment_id']}: {f['field']}: {f['reason']}" for f in flags)
                if flags
                else "The checks flagged nothing."
            )
        ),
        description=f"Batch {msg_id} waits for approval",
    )


@task(name="decide-approval", cache_policy=NO_CACHE)
def decide_approval(msg_id: str, company: str, answer: Approval) -> BatchState:
    """Record the approver's decision (`approval.decide`); a refused approver changes nothing and is
    logged. The batch's state after."""
    with closing(resources.register()) as register:
        state, refused = approval.decide(register, resources.settings().company(company), company, msg_id,
                                         answer.approver, answer.approve, answer.comment,
                                         raw_store=resources.raw_store())  # fmt: skip
    if refused:
        get_run_logger().error("refused: %s; the batch still waits for approval", refused)
    else:
        get_run_logger().info("batch %s is %s after %s's decision", msg_id, state.value, answer.approver)
    return state


def approval_wait(company: str) -> tuple[int, int]:
    """(timeout, poll interval) in seconds of a run waiting for approval."""
    s = resources.settings()
    timeout = approval_timeout(s.company(company), datetime.now(ZoneInfo(s.timezone)))
    return int(timeout.total_seconds()), s.approval_poll_seconds


def cancel_unapproved(msg_id: str, company: str) -> None:
    """The wait ran out: the batch is cancelled. A plain call, not a task: the run is no longer running."""
    with closing(resources.register()) as register:
        approval.record_decision(register, company, msg_id, Decision.TIMED_OUT, "paydag",
                                 f"not approved in time ({company})", resources.raw_store())  # fmt: skip


@io_task("deliver-file", retries=5, provider="pagero-api")
def deliver_file(msg_id: str, company: str, send_mode: str) -> send.SendOutcome:
    """Upload the archived file unless the register or the provider already has it."""
    s = resources.settings()
    with closing(resources.register()) as register, closing(resources.channel(company)) as channel:
        outcome = send.deliver(
            msg_id,
            company=s.company(company),
            register=register,
            raw_store=resources.raw_store(),
            channel=channel,
            send_mode=SendMode(send_mode),
            document_type=s.pagero_pain001_document_type,
        )
    verb = "uploaded" if outcome.uploaded else "already at the provider"
    get_run_logger().info("batch %s %s as file %s", msg_id, verb, outcome.provider_file_id)
    return outcome


@io_task("follow-file-status", retries=5, provider="pagero-api")
def follow_status(msg_id: str, company: str) -> FileStatus:
    with closing(resources.register()) as register, closing(resources.channel(company)) as channel:
        return send.follow_status(msg_id, register=register, channel=channel, raw_store=resources.raw_store())


@task(name="publish-batch", cache_policy=NO_CACHE)
def publish_batch(msg_id: str, company: str, outcome: send.SendOutcome, status: FileStatus) -> None:
    """The batch as finance sees it: every payment with masked account, and where the file is."""
    with closing(resources.register()) as register:
        record, payments = register.batch(msg_id), register.payments(msg_id)
    create_table_artifact(
        key=_artifact_key("send-batch", company),
        table=[p.as_row() for p in payments],
        description=f"Payments of batch {msg_id}",
    )
    create_markdown_artifact(
        key=_artifact_key("send-summary", company),
        markdown=(
            f"### Batch {msg_id}\n\n"
            f"| | |\n|---|---|\n"
            f"| payments | {record.nb_of_txs} |\n| control sum | {record.ctrl_sum} |\n"
            f"| state | {record.state.value} |\n| provider file | {outcome.provider_file_id} |\n"
            f"| uploaded this run | {'yes' if outcome.uploaded else 'no: the provider already had it'} |\n"
            f"| provider processing | {status.state} {'; '.join(status.errors)} |\n"
            f"| raw file | `{record.raw_key}` |\n"
        ),
        description=f"Send summary of batch {msg_id}",
    )

"""send-payment-file: a payables batch from the ERP becomes a pain.001 at the provider, exactly once."""

from __future__ import annotations

from typing import Literal

from prefect import flow, pause_flow_run
from prefect.exceptions import FlowPauseTimeout

from paydag.register import BatchState, Work
from paydag.send import BatchNotApproved
from tasks.claims import one_per_company
from tasks.payments_page import publish_payments_page
from tasks.send import (
    Approval,
    approval_wait,
    archive_file,
    ask_approval,
    build_file,
    cancel_unapproved,
    decide_approval,
    deliver_file,
    follow_status,
    publish_batch,
    register_built,
    validate_payables,
)

SENDABLE = (BatchState.BUILT, BatchState.SENT)  # approved or needing none; SENT: a rerun finds it delivered


@flow(name="send-payment-file", flow_run_name="send {company}: {payables}")
def send_payment_file(
    payables: str,
    company: str = "demo",
    send_mode: Literal["Production", "Test", "Certification"] = "Production",
    allow_partial: bool = False,
    file_format: Literal["03", "09"] = "03",
    move_to_next_bank_day: bool = False,
    requested_by: str = "",
    wait_for_approval: bool = True,
    as_of: str = "",
) -> dict[str, object]:
    """Validate, build, archive, register and deliver a supplier payment batch; follow its status.

    Args:
        payables: the ERP export, a local path or an s3:// URI (CSV or JSON Lines)
        company: company id in the paydag configuration
        send_mode: Pagero sendMode; Test and Certification are never executed by the bank
        allow_partial: send the valid payments and list the invalid ones instead of failing the batch
        file_format: pain.001.001.03 (Swedish default) or .09
        move_to_next_bank_day: move a payment past its bank's cut-off today, or due on a day banks are
            closed, to the next possible date (each said as a warning) instead of refusing it
        requested_by: who asks for the batch to be sent (an approver may not be the requester)
        wait_for_approval: where the company wants approval, pause for it (the run's Resume form);
            off, the run ends with the batch awaiting approval (`paydag approve`, then send again)
        as_of: check execution dates and cut-offs as of this moment (YYYY-MM-DDTHH:MM, Europe/Stockholm)
            instead of now
    """
    with one_per_company(Work.SEND, company) as claim:  # two sends of one batch would race its lookup
        batch, flags = validate_payables(payables, company, allow_partial, move_to_next_bank_day, as_of)
        built = build_file(batch, company, file_format)
        raw = archive_file(built, company)
        register_built(built, raw, batch)
        state = ask_approval(built.msg_id, batch, company, requested_by, flags)
        if state in SENDABLE:
            claim.check()
            outcome = deliver_file(built.msg_id, company, send_mode)
            status = follow_status(built.msg_id, company)
    if state is BatchState.AWAITING_APPROVAL and wait_for_approval:  # no claim held while a person decides
        state = _wait_for_decision(built.msg_id, company)
        if state in SENDABLE:
            with one_per_company(Work.SEND, company):
                outcome = deliver_file(built.msg_id, company, send_mode)
                status = follow_status(built.msg_id, company)
    result: dict[str, object] = {"msg_id": built.msg_id, "payments": built.nb_of_txs, "ctrl_sum": f"{built.ctrl_sum:f}",
                                 "raw_key": raw.key}  # fmt: skip
    if state not in SENDABLE:
        publish_payments_page(company)
        if state is BatchState.CANCELLED:
            raise BatchNotApproved(f"batch {built.msg_id} was not approved: nothing was sent")
        return result | {"status": "awaiting-approval", "uploaded": False}
    publish_batch(built.msg_id, company, outcome, status)
    publish_payments_page(company)
    return result | {
        "status": "sent" if outcome.uploaded else "already-sent",
        "provider_file_id": outcome.provider_file_id,
        "uploaded": outcome.uploaded,
        "provider_status": status.state,
    }


def _wait_for_decision(msg_id: str, company: str) -> BatchState:
    """Pause until an approver decides in the run's form; a refused approver is asked again. The
    batch is cancelled when the wait runs out."""
    timeout, poll = approval_wait(company)
    for attempt in range(1, 11):
        try:
            answer = pause_flow_run(
                wait_for_input=Approval, timeout=timeout, poll_interval=poll, key=f"approval-{attempt}"
            )
        except FlowPauseTimeout:
            cancel_unapproved(msg_id, company)
            raise
        state = decide_approval(msg_id, company, answer)
        if state is not BatchState.AWAITING_APPROVAL:
            return state
    return BatchState.AWAITING_APPROVAL

"""Whether a batch needs a second person's approval before it leaves, and who may give it. Strength
of identity is the Prefect server's (who may resume a run) or the shell's; Pagero's signing (BankID)
can be the second factor."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import Decimal

from paydag.payables import PaymentBatch
from paydag.register import BatchState, Decision, Register
from paydag.settings import Company
from paydag.storage import RawStore
from paydag.storage.journal import BatchEvent, record


def needs_approval(batch: PaymentBatch, company: Company) -> bool:
    """The batch's total in any currency reaches the company's threshold (0: always; unset: never)."""
    if company.approval_threshold is None:
        return False
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for p in batch.payments:
        totals[p.currency] += p.amount
    return any(total >= company.approval_threshold for total in totals.values())


def refusal(company: Company, company_id: str, approver: str, requested_by: str) -> str | None:
    """Why `approver` may not decide on a batch that `requested_by` asked for, or None."""
    if approver not in company.approvers:
        named = ", ".join(company.approvers) or "none configured"
        return f"{approver!r} is not an approver of company {company_id} (approvers: {named})"
    if approver == requested_by and not company.requester_may_approve:
        return f"{approver} asked for this batch and may not approve it too (requester_may_approve is off)"
    return None


def approval_timeout(company: Company, now: datetime) -> timedelta:
    """How long a batch waits: the company's hours, else until the end of the day where `now` is (at
    least a quarter of an hour)."""
    if company.approval_timeout_hours is not None:
        return timedelta(hours=company.approval_timeout_hours)
    end = datetime.combine(now.date(), time(23, 59, 59), tzinfo=now.tzinfo)
    return max(end - now, timedelta(minutes=15))


def ask(
    register: Register,
    msg_id: str,
    batch: PaymentBatch,
    company: Company,
    *,
    requested_by: str,
    flow_run_id: str | None,
    held: bool = False,
    raw_store: RawStore | None = None,
) -> BatchState:
    """Ask for approval where the company wants it (the batch's total, or `held`: a check holds a
    payment for approval), once; a run asking again is noted as the one that waits. The batch's
    state after: BUILT (none needed, or given before), AWAITING_APPROVAL, CANCELLED or SENT."""
    state = register.batch(msg_id).state
    if state is BatchState.BUILT and (held or needs_approval(batch, company)):
        if any(e.decision is Decision.APPROVED for e in register.approvals(msg_id)):
            return state  # approved before (`paydag approve`): this run delivers it
    elif state is not BatchState.AWAITING_APPROVAL:
        return state
    by = requested_by or "unknown"
    register.request_approval(msg_id, by, flow_run_id=flow_run_id)
    record(
        raw_store,
        batch.company,
        msg_id,
        BatchEvent.APPROVAL_REQUESTED,
        {"by": by, "flow_run_id": flow_run_id},
    )
    return register.batch(msg_id).state


def refused(register: Register, company: Company, company_id: str, msg_id: str, approver: str) -> str | None:
    """Why `approver` may not decide on the batch (`refusal`, against who first asked for it), or None."""
    asked = [e.by for e in register.approvals(msg_id) if e.decision is Decision.REQUESTED]
    return refusal(company, company_id, approver, asked[0] if asked else "")


def decide(
    register: Register,
    company: Company,
    company_id: str,
    msg_id: str,
    approver: str,
    approve: bool,
    comment: str,
    *,
    raw_store: RawStore | None = None,
) -> tuple[BatchState, str | None]:
    """Record an approver's decision unless the approver is refused: the batch's state, and why not."""
    why_not = refused(register, company, company_id, msg_id, approver)
    if why_not:
        return register.batch(msg_id).state, why_not
    decision = Decision.APPROVED if approve else Decision.REJECTED
    return record_decision(register, company_id, msg_id, decision, approver, comment or None, raw_store), None


def record_decision(
    register: Register,
    company_id: str,
    msg_id: str,
    decision: Decision,
    by: str,
    comment: str | None,
    raw_store: RawStore | None,
) -> BatchState:
    """A decision in the register, then in the journal (a batch no longer waiting is left as it is)."""
    before = register.batch(msg_id).state
    state = register.decide(msg_id, decision, by, comment)
    if before is BatchState.AWAITING_APPROVAL:
        record(raw_store, company_id, msg_id, BatchEvent.DECIDED,
               {"decision": decision.value, "by": by, "comment": comment})  # fmt: skip
    return state

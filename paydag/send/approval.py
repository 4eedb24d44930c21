"""Whether a batch needs a second person's approval before it leaves, and who may give it. Strength
of identity is the Prefect server's (who may resume a run) or the shell's; Pagero's signing (BankID)
can be the second factor."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import Decimal

from paydag.payables import PaymentBatch
from paydag.settings import Company


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

"""Approval before a batch leaves: asked for once its file is built, then approved (the batch goes on
to be sent) or rejected or left too long (the batch and its payments are CANCELLED). Every step is an
event of its own: who, when, what, why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from paydag.register.database import RegisterBase, RegisterError
from paydag.register.models import ApprovalRow, BatchRow, BatchState, PaymentState, StatusEventRow


class Decision(StrEnum):
    REQUESTED = "REQUESTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"


@dataclass(frozen=True)
class ApprovalEvent:
    decision: Decision
    by: str
    comment: str | None
    flow_run_id: str | None
    at: datetime

    def describe(self) -> str:
        what = {"REQUESTED": "asked for by", "APPROVED": "approved by", "REJECTED": "rejected by",
                "TIMED_OUT": "not approved in time; cancelled by"}[self.decision]  # fmt: skip
        return f"{self.at:%Y-%m-%d %H:%M} UTC {what} {self.by}" + (
            f": {self.comment}" if self.comment else ""
        )


class Approvals(RegisterBase):
    """The approval lifecycle of a built batch."""

    def request_approval(
        self, msg_id: str, requested_by: str, flow_run_id: str | None = None
    ) -> list[ApprovalEvent]:
        """A BUILT batch now waits for approval (it and its payments AWAITING_APPROVAL). Asked again
        (a rerun, another run waiting), only the waiting run is noted. Its approval events."""
        with self._tx() as s:
            batch = _batch(s, msg_id, lock=True)
            first = batch.state == BatchState.BUILT
            if first:
                _move(s, batch, BatchState.AWAITING_APPROVAL, PaymentState.AWAITING_APPROVAL, None)
            if first or (batch.state == BatchState.AWAITING_APPROVAL and flow_run_id):
                s.add(
                    ApprovalRow(
                        batch_id=batch.id,
                        decision=Decision.REQUESTED,
                        by=requested_by,
                        flow_run_id=flow_run_id,
                    )
                )
        return self.approvals(msg_id)

    def decide(self, msg_id: str, decision: Decision, by: str, comment: str | None = None) -> BatchState:
        """Approve (the batch is BUILT again, ready to send), reject or time out (CANCELLED). A batch
        no longer awaiting approval is left as it is; its state is returned either way."""
        if decision is Decision.REQUESTED:
            raise ValueError("a decision approves, rejects or times out")
        with self._tx() as s:
            batch = _batch(s, msg_id, lock=True)
            if batch.state != BatchState.AWAITING_APPROVAL:
                return BatchState(batch.state)
            detail = f"{decision.value.lower().replace('_', ' ')} by {by}" + (
                f": {comment}" if comment else ""
            )
            if decision is Decision.APPROVED:
                _move(s, batch, BatchState.BUILT, PaymentState.BUILT, detail)
            else:
                _move(s, batch, BatchState.CANCELLED, PaymentState.CANCELLED, detail)
            s.add(ApprovalRow(batch_id=batch.id, decision=decision, by=by, comment=comment))
            return BatchState(batch.state)

    def approvals(self, msg_id: str) -> list[ApprovalEvent]:
        with self._tx() as s:
            batch = _batch(s, msg_id)
            rows = s.scalars(
                select(ApprovalRow).where(ApprovalRow.batch_id == batch.id).order_by(ApprovalRow.id)
            )
            return [ApprovalEvent(Decision(r.decision), r.by, r.comment, r.flow_run_id, r.at) for r in rows]


def _batch(s: Session, msg_id: str, *, lock: bool = False) -> BatchRow:
    query = select(BatchRow).where(BatchRow.msg_id == msg_id)
    batch = s.scalar(query.with_for_update() if lock else query)
    if batch is None:
        raise RegisterError(f"no batch {msg_id} in the register")
    return batch


def _move(s: Session, batch: BatchRow, state: BatchState, payments: PaymentState, detail: str | None) -> None:
    s.add(StatusEventRow(batch_id=batch.id, from_state=batch.state, to_state=state, detail=detail))
    batch.state = state
    for p in batch.payments:
        s.add(
            StatusEventRow(
                batch_id=batch.id, payment_id=p.id, from_state=p.state, to_state=payments, detail=detail
            )
        )
        p.state = payments

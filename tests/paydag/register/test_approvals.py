"""Approval in the register, on SQLite and PostgreSQL: asked for, decided once, every step an event."""

from __future__ import annotations

from pathlib import Path

import pytest

from paydag.register import BatchState, Decision, PaymentState, Register, RegisterError
from tests.paydag.register.test_register import archived, build_batch
from tests.paydag.register.test_register import register as register


def test_an_approved_batch_is_built_again_and_every_step_is_an_event(
    register: Register, tmp_path: Path
) -> None:
    build_batch(register, archived(tmp_path))
    register.request_approval("PDTEST0001", "anna", flow_run_id="run-1")
    assert register.batch("PDTEST0001").state is BatchState.AWAITING_APPROVAL
    assert {p.state for p in register.payments("PDTEST0001")} == {PaymentState.AWAITING_APPROVAL}
    register.request_approval("PDTEST0001", "anna")  # asked again: nothing changes
    assert (
        register.decide("PDTEST0001", Decision.APPROVED, "bertil", "checked the invoices") is BatchState.BUILT
    )
    assert {p.state for p in register.payments("PDTEST0001")} == {PaymentState.BUILT}
    # Decided once: a later rejection changes nothing.
    assert register.decide("PDTEST0001", Decision.REJECTED, "cecilia", "too late") is BatchState.BUILT
    events = register.approvals("PDTEST0001")
    assert [(e.decision, e.by, e.comment, e.flow_run_id) for e in events] == [
        (Decision.REQUESTED, "anna", None, "run-1"),
        (Decision.APPROVED, "bertil", "checked the invoices", None),
    ]
    assert "approved by bertil: checked the invoices" in events[1].describe()
    assert ("AWAITING_APPROVAL", "BUILT", "approved by bertil: checked the invoices") in register.events(
        "PDTEST0001"
    )


@pytest.mark.parametrize("decision", [Decision.REJECTED, Decision.TIMED_OUT])
def test_a_rejected_or_timed_out_batch_is_cancelled(
    register: Register, tmp_path: Path, decision: Decision
) -> None:
    build_batch(register, archived(tmp_path))
    register.request_approval("PDTEST0001", "anna")
    assert register.decide("PDTEST0001", decision, "bertil", "wrong supplier") is BatchState.CANCELLED
    assert {p.state for p in register.payments("PDTEST0001")} == {PaymentState.CANCELLED}
    register.request_approval("PDTEST0001", "anna")  # a cancelled batch does not wait again
    assert register.batch("PDTEST0001").state is BatchState.CANCELLED
    with pytest.raises(ValueError):
        register.decide("PDTEST0001", Decision.REQUESTED, "x")
    with pytest.raises(RegisterError, match="no batch PDNONE"):
        register.approvals("PDNONE")

"""The checks that hold a payment before it leaves, against the company's earlier payments in the
register, on SQLite and on PostgreSQL: duplicates, new and changed payee accounts, shared accounts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from paydag import send
from paydag.formats.bank_profiles import bank_profile
from paydag.formats.pain001 import message_id
from paydag.payables import PaymentBatch
from paydag.register import Decision, PaymentState, Register
from paydag.register.models import PaymentRow
from paydag.send.controls import DEFAULT_CONTROLS, Controls, normalised_name
from paydag.storage import Direction, LocalRawStore
from tests.conftest import TODAY, row, write_csv
from tests.paydag.register.test_register import register as register  # the fixture

GENERIC = bank_profile("generic")


def checked(register: Register, tmp_path: Path, *rows: dict[str, str], controls: Controls = DEFAULT_CONTROLS,
            allow_partial: bool = False):  # fmt: skip
    path = write_csv(tmp_path / f"payables-{len(list(tmp_path.iterdir()))}.csv", list(rows))
    return send.validated_batch(
        path, company_id="demo", profile=GENERIC, register=register, today=TODAY,
        allow_partial=allow_partial, controls=controls,
    )  # fmt: skip


def sent(register: Register, tmp_path: Path, batch: PaymentBatch) -> str:
    """The batch registered as built, as the send flow leaves it before delivery; its MsgId."""
    msg_id = message_id(batch)
    raw = LocalRawStore(tmp_path / "raw").put(
        Direction.OUTGOING, "demo", f"{msg_id}.xml", b"<x/>", source="t"
    )
    register.begin_batch(msg_id, "demo", "payables.csv", datetime(2026, 11, 19, tzinfo=UTC))
    register.record_built(
        msg_id, raw=raw, name=f"{msg_id}.xml", file_format="pain.001.001.03", nb_of_txs=len(batch),
        ctrl_sum=f"{batch.total:f}", payments=((p, p.payment_id, f"{msg_id}-001") for p in batch.payments),
    )  # fmt: skip
    return msg_id


def test_the_same_ocr_to_the_same_account_is_held_naming_the_earlier_payment(register, tmp_path) -> None:
    first, _ = checked(register, tmp_path, row(payment_id="INV-1"))
    first_id = sent(register, tmp_path, first)
    with pytest.raises(send.BatchInvalid) as caught:
        checked(register, tmp_path, row(payment_id="INV-1-AGAIN", amount="99.00"))
    [held] = caught.value.report.errors
    assert (held.payment_id, held.field) == ("INV-1-AGAIN", "duplicate")
    assert (
        f"repeats payment INV-1 of batch {first_id} (BUILT): the same account and reference '20260911000000316'"
        in held.reason
    )

    # The same amount to the same account within the window, another reference: held too.
    same_amount = row(payment_id="INV-2", ocr="", message="Faktura 77", execution_date="2026-11-25")
    with pytest.raises(send.BatchInvalid) as caught:
        checked(register, tmp_path, same_amount)
    assert "the same account and amount 18450.00 SEK within 30 days" in caught.value.report.errors[0].reason
    outside = checked(register, tmp_path, same_amount, controls=Controls(duplicate_window_days=0))
    assert outside[0].payments[0].payment_id == "INV-2"  # the window is the company's


def test_a_reason_lets_a_duplicate_through_and_a_rejected_payment_may_be_paid_again(
    register, tmp_path
) -> None:
    first, _ = checked(register, tmp_path, row(payment_id="INV-1"))
    sent(register, tmp_path, first)
    batch, report = checked(
        register, tmp_path, row(payment_id="INV-1B", allow_duplicate="credit note reversed")
    )
    assert [p.payment_id for p in batch.payments] == ["INV-1B"]
    assert any(
        w.field == "duplicate" and w.reason.endswith("paid anyway: credit note reversed")
        for w in report.warnings
    )
    second = sent(register, tmp_path, batch)  # the reason is recorded with the payment
    [built] = [d for _, to, d in register.events(second) if to == "BUILT" and d]
    assert built.startswith("credit note reversed; duplicate: repeats payment INV-1 of batch")

    with register.engine.begin() as connection:  # the bank rejected both (a pain.002 would say so)
        connection.execute(
            update(PaymentRow)
            .where(PaymentRow.payment_id.in_(["INV-1", "INV-1B"]))
            .values(state=PaymentState.REJECTED)
        )
    batch, report = checked(register, tmp_path, row(payment_id="INV-1C"))
    assert [p.payment_id for p in batch.payments] == ["INV-1C"]
    assert not [w for w in report.warnings if w.field == "duplicate"]


def test_a_cancelled_payment_is_no_duplicate(register, tmp_path) -> None:
    first, _ = checked(register, tmp_path, row(payment_id="INV-1"))
    first_id = sent(register, tmp_path, first)
    register.request_approval(first_id, "anna")
    register.decide(first_id, Decision.REJECTED, "bertil", "wrong supplier")  # never paid
    batch, report = checked(register, tmp_path, row(payment_id="INV-1-FIXED"))
    assert [p.payment_id for p in batch.payments] == ["INV-1-FIXED"]
    assert not [w for w in report.warnings if w.field == "duplicate"]


def test_partial_sends_the_rest_and_a_rerun_of_the_same_batch_is_not_its_own_duplicate(
    register, tmp_path
) -> None:
    first, _ = checked(register, tmp_path, row(payment_id="INV-1"))
    sent(register, tmp_path, first)
    again, _ = checked(register, tmp_path, row(payment_id="INV-1"))  # the rerun of the same send
    assert [p.payment_id for p in again.payments] == ["INV-1"]
    other = row(payment_id="INV-9", account_type="PG", account="12345-5", ocr="", message="Faktura 9")
    batch, report = checked(register, tmp_path, row(payment_id="INV-5"), other, allow_partial=True)
    assert [p.payment_id for p in batch.payments] == ["INV-9"]
    assert [e.payment_id for e in report.errors] == ["INV-5"]


def test_new_changed_and_shared_payee_accounts_are_flagged(register, tmp_path) -> None:
    _, report = checked(register, tmp_path, row(payment_id="INV-1"))
    [flag] = [w for w in report.warnings if w.field == "payee_account"]
    assert flag.reason == "new payee account: the first payment to BG ****1055"
    first, _ = checked(register, tmp_path, row(payment_id="INV-1"))
    first_id = sent(register, tmp_path, first)
    flagged = [d for _, to, d in register.events(first_id) if to == "BUILT" and d]
    assert flagged == [
        "payee_account: new payee account: the first payment to BG ****1055"
    ]  # in the register

    moved = row(
        payment_id="INV-2", creditor_name="SÅGVERK ÖSTER", account="5805-6201", ocr="", message="Faktura 2"
    )
    _, report = checked(register, tmp_path, moved)
    [flag] = [w for w in report.warnings if w.field == "payee_account"]
    assert (
        flag.reason == "changed payee account: SÅGVERK ÖSTER was paid before to ****1055, now to BG ****6201"
    )

    shared = row(
        payment_id="INV-3", creditor_name="Fjällmaskin Service AB", ocr="", message="Faktura 3", amount="5.00"
    )
    _, report = checked(register, tmp_path, shared)
    [flag] = [w for w in report.warnings if w.field == "payee_account"]
    assert flag.reason == "shared account: BG ****1055 was paid before under another name (Sågverk Öster AB)"

    with pytest.raises(send.BatchInvalid) as caught:
        checked(register, tmp_path, moved, controls=Controls(new_payee_accounts="hold"))
    assert caught.value.report.errors[0].reason.startswith("held: changed payee account")

    _, report = checked(
        register, tmp_path, row(payment_id="INV-4", ocr="", message="Faktura 4", amount="7.00")
    )
    assert not [w for w in report.warnings if w.field == "payee_account"]  # paid before, same name


def test_names_are_compared_without_case_accents_or_legal_form() -> None:
    assert normalised_name("Sågverk Öster AB") == normalised_name("SAGVERK ÖSTER") == "sagverk oster"
    assert normalised_name("Müller & Söhne GmbH") == "muller sohne"
    assert normalised_name("Oy Pohjolan Puu Ab") == "pohjolan puu"


def test_where_the_company_has_approvers_a_held_payee_account_waits_for_approval(register, tmp_path) -> None:
    controls = Controls(new_payee_accounts="hold", approval_available=True)
    batch, report = checked(register, tmp_path, row(payment_id="INV-1"), controls=controls)
    assert [p.payment_id for p in batch.payments] == ["INV-1"]  # stays in the batch, which then waits
    [flag] = [w for w in report.warnings if w.field == "payee_account"]
    assert flag.reason == "held for approval: new payee account: the first payment to BG ****1055"

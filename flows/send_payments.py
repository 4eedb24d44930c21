"""send-payment-file: a payables batch from the ERP becomes a pain.001 at the provider, exactly once."""

from __future__ import annotations

from typing import Literal

from prefect import flow

from paydag.register import Work
from tasks.claims import one_per_company
from tasks.payments_page import publish_payments_page
from tasks.send import (
    archive_file,
    build_file,
    deliver_file,
    follow_status,
    publish_batch,
    register_built,
    validate_payables,
)


@flow(name="send-payment-file", flow_run_name="send {company}: {payables}")
def send_payment_file(
    payables: str,
    company: str = "demo",
    send_mode: Literal["Production", "Test", "Certification"] = "Production",
    allow_partial: bool = False,
    file_format: Literal["03", "09"] = "03",
    move_to_next_bank_day: bool = False,
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
    """
    with one_per_company(Work.SEND, company) as claim:  # two sends of one batch would race its lookup
        batch = validate_payables(payables, company, allow_partial, move_to_next_bank_day)
        built = build_file(batch, company, file_format)
        raw = archive_file(built, company)
        register_built(built, raw, batch)
        claim.check()
        outcome = deliver_file(built.msg_id, company, send_mode)
        status = follow_status(built.msg_id, company)
    publish_batch(built.msg_id, company, outcome, status)
    publish_payments_page(company)
    return {
        "msg_id": built.msg_id,
        "payments": built.nb_of_txs,
        "ctrl_sum": f"{built.ctrl_sum:f}",
        "raw_key": raw.key,
        "provider_file_id": outcome.provider_file_id,
        "uploaded": outcome.uploaded,
        "provider_status": status.state,
    }

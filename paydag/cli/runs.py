"""The commands that run a flow in this process, as an operator would by hand: send, poll, ingest.
They need the Prefect project (the repository); Prefect starts a temporary local API when
PREFECT_API_URL names none."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from paydag.cli.output import JsonOption, MoveOption, NowOption, emit, failures
from paydag.cli.runtime import prepare_flow_run, settings_for
from paydag.formats.pain001 import Pain001Version
from paydag.settings import Settings


def ready(company: str | None, doc: dict[str, Any], as_json: bool) -> Settings:
    """The settings (a company not configured, or a value the settings refuse: exit 2) and this
    process prepared for a flow run."""
    with failures(doc, as_json, unreadable=(ValueError,)):
        settings = settings_for(company)
        prepare_flow_run(settings)
    return settings


def send(
    payables: Annotated[str, typer.Argument(help="Payables export: a local path or an s3:// URI.")],
    company: Annotated[str, typer.Option("--company", help="Company id in the configuration.")],
    send_mode: Annotated[
        str, typer.Option("--send-mode", help="Pagero sendMode: Production, Test or Certification.")
    ] = "",
    allow_partial: Annotated[bool, typer.Option("--allow-partial")] = False,
    format_: Annotated[Pain001Version, typer.Option("--format")] = Pain001Version.V03,
    move_to_next_bank_day: MoveOption = False,
    requested_by: Annotated[
        str, typer.Option("--requested-by", help="Who asks for the batch (recorded; may not approve it).")
    ] = "",
    now: NowOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the send-payment-file flow in this process: validate, build, archive, deliver once. A batch
    that needs approval is registered and left waiting: `paydag approve`, then send again."""
    doc: dict[str, Any] = {"command": "send", "payables": payables, "company": company}
    settings = ready(company, doc, as_json)
    with failures(doc, as_json, unreadable=(ValueError,)):
        from paydag.bankdays import local_moment

        if now:
            local_moment(now, settings.timezone)  # a moment written otherwise: exit 2 before any run
    with failures(doc, as_json):
        from flows.send_payments import send_payment_file

        result = send_payment_file(
            payables=payables, company=company, send_mode=send_mode or settings.send_mode,
            allow_partial=allow_partial, file_format=format_.value, move_to_next_bank_day=move_to_next_bank_day,
            requested_by=requested_by, wait_for_approval=False, as_of=now or "",
        )  # fmt: skip
    if result["status"] == "awaiting-approval":
        msg_id = result["msg_id"]
        emit(as_json, {**doc, **result}, [
            f"batch {msg_id} ({result['payments']} payments, {result['ctrl_sum']}) waits for approval: nothing was sent",
            f"next: paydag approve {msg_id} --as NAME [--comment TEXT]  (or paydag reject {msg_id} --as NAME --reason TEXT)",
            f"then: paydag send {payables} --company {company}  (delivers the approved batch)",
        ])  # fmt: skip
    if result["uploaded"]:
        head = (f"sent batch {result['msg_id']} ({result['payments']} payments, {result['ctrl_sum']}) "
                f"as provider file {result['provider_file_id']}")  # fmt: skip
    else:
        head = (f"batch {result['msg_id']} was already sent as provider file {result['provider_file_id']}: "
                "nothing sent again")  # fmt: skip
    lines = [head, f"raw file: {result['raw_key']}", f"provider processing: {result['provider_status']}"]
    emit(as_json, {**doc, **result}, lines)


def poll(
    company: Annotated[
        str | None, typer.Option("--company", help="One company; every configured one if left out.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the poll-return-files flow in this process: fetch, keep, apply and acknowledge bank files."""
    doc: dict[str, Any] = {"command": "poll", "company": company}
    ready(company, doc, as_json)
    with failures(doc, as_json):
        from flows.poll_returns import poll_return_files

        summary = poll_return_files(company=company)
    lines = [
        f"{c}: {s['files']} file(s), {s['acknowledged']} acknowledged, {s['payments_changed']} payment change(s), "
        f"{s['incoming_payments']} incoming payment(s)"
        + (f", quarantined: {', '.join(s['quarantined'])}" if s["quarantined"] else "")
        for c, s in summary.items()
    ]
    emit(as_json, {**doc, "status": "polled", "companies": summary}, lines)


def ingest(
    source: Annotated[
        str | None,
        typer.Argument(
            help="The Transaction List XML (a local path or an s3:// URI); the inbox's new reports if left out."
        ),
    ] = None,
    company: Annotated[str, typer.Option("--company")] = "demo",
    force: Annotated[
        bool, typer.Option("--force", help="Ingest again an AccountingNo curated before.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the ingest-settlement-report flow in this process: archive, validate (GX), curate."""
    doc: dict[str, Any] = {"command": "ingest", "source": source}
    ready(company, doc, as_json)
    with failures(doc, as_json):
        from flows.ingest_settlement import ingest_settlement_report
        from paydag.ingest import IngestState

        result = ingest_settlement_report(source=source, company=company, force=force)
    if "reports" in result:  # the inbox: each new report
        lines = [
            f"{src}: {r['state']} {r.get('accounting_no', '')}".rstrip()
            for src, r in result["reports"].items()
        ]
        emit(as_json, {**doc, "status": "done", **result}, lines or ["no new settlement reports"])
    if result["state"] == IngestState.ALREADY:
        head = f"{result['accounting_no']} was ingested before: nothing to do (--force to ingest again)"
    else:
        head = (
            f"{result['accounting_no']}: {result['rows']} rows valid and curated at {result['curated_path']}"
        )
    emit(
        as_json,
        {**doc, "status": result["state"].lower(), **result},
        [head, f"raw file: {result['raw_key']}"],
    )

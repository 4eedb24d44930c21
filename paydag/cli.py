"""The `paydag` command: the one composition root. It reads the settings, builds what a command needs
and hands it to the domain code; flows are imported lazily, per command.

Exit codes: 0 success; 1 the input is invalid (every reason printed); 2 the input could not be read or
is of an unsupported kind; 3 the run failed for another reason (provider or storage unavailable), and
can be run again. `--json` prints one JSON document on stdout.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer

from paydag.formats.pain001 import Pain001Version

app = typer.Typer(
    name="paydag",
    help="Payment files of a Swedish finance back office: build, send, poll, ingest, reconcile.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Payment files of a Swedish finance back office: build, send, poll, ingest, reconcile."""


class Exit(IntEnum):
    OK = 0
    INVALID = 1
    UNREADABLE = 2
    FAILED = 3


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _emit(as_json: bool, document: dict[str, Any], lines: list[str], code: Exit) -> NoReturn:
    if as_json:
        typer.echo(json.dumps(document, indent=2, default=str, ensure_ascii=False))
    else:
        stream = sys.stdout if code is Exit.OK else sys.stderr
        for line in lines:
            print(line, file=stream)
    raise typer.Exit(int(code))


@app.command("build-pain001")
def build_pain001_command(
    payables: Annotated[Path, typer.Argument(help="Payables export: CSV (, ; or tab) or JSON Lines.")],
    company: Annotated[str, typer.Option("--company", help="Company id in the configuration.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the pain.001 file.")],
    format_: Annotated[
        Pain001Version, typer.Option("--format", help="pain.001.001.03 or .09.")
    ] = Pain001Version.V03,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Build the valid rows and list the invalid ones.")
    ] = False,
    today: Annotated[
        str | None, typer.Option("--today", help="Check execution dates as of this day (YYYY-MM-DD).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Validate a payables batch and build a pain.001 file that Swedish banks accept."""
    _build(
        payables,
        company=company,
        out=out,
        format_=format_,
        allow_partial=allow_partial,
        today=today,
        as_json=as_json,
    )


@app.command()
def demo(as_json: JsonOption = False) -> None:
    """Run the daily cycle on the embedded defaults: send today's supplier payments through the sandbox
    bank (which refuses one), poll its answers, move its clock past the execution dates, poll again."""
    import os

    import httpx

    from paydag.resources import open_register
    from paydag.samples import ocr_reference, sample_payables, write_payables_csv
    from paydag.settings import load_settings
    from sandbox.server import running_sandbox

    settings = load_settings()
    today = settings.today()
    first_day = today + timedelta(days=1)
    # Payment ids carry the day: a second demo on the same day is the same batch, and is not sent again.
    rows = sample_payables(12, company="demo", first_day=first_day, id_prefix=f"DEMO{today:%Y%m%d}-")
    payables = write_payables_csv(rows, settings.home / "demo" / f"payables-{today}.csv")
    provider_id = settings.company("demo").provider_company_id
    with running_sandbox(settings.home / "sandbox") as url:
        os.environ["PAYDAG_PAGERO_BASE_URL"] = url
        _prefect_environment(settings.home)
        from flows.poll_returns import poll_return_files
        from flows.send_payments import send_payment_file

        rules = {
            "blocked_accounts": ["123455"],  # the sample plusgiro supplier: refused with AC01
            "invoices": [
                {"company_id": provider_id, "ocr": ocr_reference(4711000 + n), "amount": f"{8450 + 125 * n}.00",
                 "payer_name": f"Hyresgäst {n + 1}", "paid_on": first_day.isoformat()}
                for n in range(3)
            ],
        }  # fmt: skip
        try:
            httpx.post(f"{url}/_sandbox/bank", json=rules, timeout=10).raise_for_status()
            sent = send_payment_file(payables=str(payables), company="demo", send_mode="Test")
            first = poll_return_files(company="demo")
            httpx.post(f"{url}/_sandbox/advance", json={"seconds": 10 * 86400}, timeout=10).raise_for_status()
            second = poll_return_files(company="demo")
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            _emit(
                as_json,
                {"command": "demo", "status": "failed", "error": message},
                [f"error: {message}"],
                Exit.FAILED,
            )
    register = open_register(settings)
    try:
        payments = register.payments(sent["msg_id"])
        incoming = register.incoming_payments("demo")
    finally:
        register.close()
    states: dict[str, int] = {}
    for p in payments:
        states[p.state.value] = states.get(p.state.value, 0) + 1
    doc = {
        "command": "demo",
        "status": "done",
        "batch": sent,
        "payment_states": states,
        "incoming_payments": len(incoming),
        "polls": [first, second],
        "home": str(settings.home),
    }
    lines = [
        f"batch {sent['msg_id']}: {sent['payments']} payments, {sent['ctrl_sum']} "
        + ("sent to the sandbox" if sent["uploaded"] else "(already sent earlier today)"),
        f"raw file: {sent['raw_key']}",
        "payments: " + ", ".join(f"{n} {state}" for state, n in sorted(states.items())),
        *(
            f"  {p.payment_id} REJECTED {p.reason_code}: {p.reason_text}"
            for p in payments
            if p.state.value in ("REJECTED", "RETURNED")
        ),
        f"incoming payments routed to the rent ledger: {len(incoming)} ({settings.effective_rent_ledger})",
        "see `paydag status` for every payment",
    ]
    _emit(as_json, doc, lines, Exit.OK)


def _build(
    payables: Path,
    *,
    company: str,
    out: Path,
    format_: Pain001Version,
    allow_partial: bool,
    today: str | None,
    as_json: bool,
) -> NoReturn:
    from paydag.formats.bank_profiles import bank_profile
    from paydag.formats.pain001 import Pain001SchemaError, build_pain001
    from paydag.payables import PayablesUnreadable, load_batch
    from paydag.settings import ConfigurationError, load_settings

    doc: dict[str, Any] = {"command": "build-pain001", "payables": str(payables), "company": company}
    try:
        settings = load_settings()
        tz = ZoneInfo(settings.timezone)
        company_cfg = settings.company(company)
        profile = bank_profile(company_cfg.bank_profile)
        as_of = date.fromisoformat(today) if today else settings.today()
        batch, report = load_batch(
            payables, company=company, profile=profile, today=as_of, allow_partial=allow_partial
        )
    except (PayablesUnreadable, ConfigurationError, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) else str(exc)
        _emit(
            as_json, {**doc, "status": "unreadable", "error": message}, [f"error: {message}"], Exit.UNREADABLE
        )

    doc |= {
        "rows_read": report.rows_read,
        "errors": [e.as_dict() for e in report.errors],
        "warnings": [w.as_dict() for w in report.warnings],
        "invalid_payment_ids": report.invalid_payment_ids,
    }
    issue_lines = [f"row {e.row} payment {e.payment_id or '-'}: {e.field}: {e.reason}" for e in report.errors]
    warning_lines = [
        f"warning: row {w.row} payment {w.payment_id}: {w.field}: {w.reason}" for w in report.warnings
    ]
    if batch is None:
        head = f"{payables}: {len(report.invalid_payment_ids)} invalid payment(s); nothing was built"
        _emit(as_json, {**doc, "status": "invalid"}, [head, *issue_lines, *warning_lines], Exit.INVALID)

    try:
        built = build_pain001(
            batch, company=company_cfg, profile=profile, out=out, version=format_, created_at=datetime.now(tz)
        )
    except (ConfigurationError, Pain001SchemaError, ValueError) as exc:
        _emit(as_json, {**doc, "status": "invalid", "error": str(exc)}, [f"error: {exc}"], Exit.INVALID)

    doc |= {
        "status": "built",
        "out": str(built.path),
        "format": f"pain.001.001.{built.version.value}",
        "msg_id": built.msg_id,
        "nb_of_txs": built.nb_of_txs,
        "ctrl_sum": f"{built.ctrl_sum:f}",
        "sha256": built.sha256,
        "left_out": report.invalid_payment_ids,
        "payment_infos": [
            {
                "pmt_inf_id": i.pmt_inf_id,
                "execution_date": i.execution_date.isoformat(),
                "currency": i.currency,
                "payment_type": i.payment_type.value,
                "nb_of_txs": i.nb_of_txs,
                "ctrl_sum": f"{i.ctrl_sum:f}",
            }
            for i in built.payment_infos
        ],
    }
    lines = [
        f"{built.path}: pain.001.001.{built.version.value} MsgId {built.msg_id}, "
        f"{built.nb_of_txs} payment(s), control sum {built.ctrl_sum:f}, XSD-valid",
        *(
            f"  {i.pmt_inf_id}  {i.execution_date}  {i.currency}  {i.payment_type.value:<12} "
            f"{i.nb_of_txs:>6} tx  {i.ctrl_sum:f}"
            for i in built.payment_infos
        ),
    ]
    if report.errors:
        lines += [f"left out {len(report.invalid_payment_ids)} invalid payment(s):", *issue_lines]
    _emit(as_json, doc, [*lines, *warning_lines], Exit.OK)


@app.command()
def parse(
    file: Annotated[Path, typer.Argument(help="A pain.002 or camt.054 file.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the rows: .csv, .json or .parquet.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Detect a file's kind and version from its content, parse it, summarise it."""
    import dataclasses

    from paydag.formats.camt054 import parse_camt054
    from paydag.formats.classify import FileKind, classify
    from paydag.formats.pain002 import parse_pain002
    from paydag.formats.xml import FormatError

    doc: dict[str, Any] = {"command": "parse", "file": str(file)}
    try:
        data = file.read_bytes()
    except OSError as exc:
        _emit(as_json, {**doc, "error": str(exc)}, [f"error: {file}: {exc.strerror}"], Exit.UNREADABLE)
    kind = classify(data, file.name)
    doc |= {"kind": kind.kind.value, "version": kind.version, "label": kind.label}
    try:
        if kind.kind is FileKind.PAIN002:
            report = parse_pain002(data, file.name)
            rows = report.rows()
            doc |= {"original_msg_id": report.original_msg_id, "group_status": report.group_status,
                    "payment_infos": len(report.payment_infos), "transactions": report.transaction_count}  # fmt: skip
        elif kind.kind is FileKind.SETTLEMENT or file.suffix.lower() == ".xlsx" or data[:4] == b"PK\x03\x04":
            from paydag.formats.settlement import parse_settlement

            try:
                report = parse_settlement(data, file.name)
            except FormatError as exc:  # a settlement report that cannot be read is "unreadable" (2)
                _emit(as_json, {**doc, "error": str(exc)}, [f"error: {exc}"], Exit.UNREADABLE)
            _emit_settlement(report, file, out, as_json, doc)
        elif kind.kind is FileKind.CAMT054:
            camt = parse_camt054(data, file.name)
            rows = [dataclasses.asdict(t) for t in camt.transactions]
            doc |= {"msg_id": camt.header.msg_id, "credit_transactions": len(camt.credit),
                    "debit_transactions": len(camt.debit)}  # fmt: skip
        else:
            reason = kind.reason or f"{file.name}: {kind.label} files are not parsed by this command"
            _emit(as_json, {**doc, "error": reason}, [f"error: {reason}"], Exit.UNREADABLE)
    except FormatError as exc:
        _emit(as_json, {**doc, "error": str(exc)}, [f"error: {exc}"], Exit.INVALID)
    counted = "status" if kind.kind is FileKind.PAIN002 else "credit_debit"
    statuses: dict[str, int] = {}
    for r in rows:
        key = str(r[counted])
        statuses[key] = statuses.get(key, 0) + 1
    doc |= {"rows": len(rows), "counts": statuses}
    if out:
        _write_rows(rows, out)
        doc["out"] = str(out)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    lines = [f"{file}: {kind.label}, {len(rows)} row(s): {summary}"] + (
        [f"rows written to {out}"] if out else []
    )
    _emit(as_json, {**doc, "row_data": rows if not out else None}, lines, Exit.OK)


def _emit_settlement(
    report: Any, file: Path, out: Path | None, as_json: bool, doc: dict[str, Any]
) -> NoReturn:
    from paydag.money import from_minor

    rows = report.rows
    services = (
        rows.groupby(["currency", "service"], dropna=False)["amount_minor"]
        .agg(["count", "sum"])
        .reset_index()
    )
    per_service = [
        {"currency": r.currency, "service": r.service, "rows": int(r["count"]), "sum": f"{from_minor(int(r['sum']), r.currency):f}"}
        for _, r in services.iterrows()
    ]  # fmt: skip
    sums = {c: f"{from_minor(m, c):f}" for c, m in report.currency_sums_minor.items()}
    doc |= {"kind": "settlement", "version": report.version, "accounting_no": report.accounting_no,
            "rows": len(rows), "sums": sums, "services": per_service}  # fmt: skip
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".parquet":
            rows.to_parquet(out, index=False)
        else:
            rows.to_csv(out, index=False)
        doc["out"] = str(out)
    lines = [
        f"{file}: Swedbank Pay transaction list v{report.version}, {report.accounting_no}, {len(rows)} row(s), "
        + ", ".join(f"{c} {v}" for c, v in sums.items()),
        *(f"  {s['currency']} {s['service']:<28} {s['rows']:>7} rows {s['sum']:>14}" for s in per_service),
    ] + ([f"rows written to {out}"] if out else [])
    _emit(as_json, doc, lines, Exit.OK)


def _write_rows(rows: list[dict[str, Any]], out: Path) -> None:
    import csv

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".json":
        out.write_text(json.dumps(rows, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    elif out.suffix == ".parquet":
        import pandas as pd

        pd.DataFrame(rows).to_parquet(out, index=False)
    else:
        with out.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["empty"])
            writer.writeheader()
            writer.writerows(rows)


def _settings_for(company: str | None, doc: dict[str, Any], as_json: bool) -> Any:
    """The settings, with `company` checked to be configured; exit 2 saying why when not."""
    from paydag.settings import ConfigurationError, load_settings

    try:
        settings = load_settings()
        if company:
            settings.company(company)
    except (ConfigurationError, ValueError) as exc:
        _emit(as_json, {**doc, "status": "unreadable", "error": str(exc)}, [f"error: {exc}"], Exit.UNREADABLE)
    return settings


def _prefect_environment(home: Path) -> None:
    """Before Prefect is imported: its state under PAYDAG_HOME, and time for a local API to start."""
    import os

    prefect_home = Path(os.environ.setdefault("PREFECT_HOME", str((home / "prefect").resolve())))
    prefect_home.mkdir(parents=True, exist_ok=True)  # its SQLite database cannot be opened otherwise
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@app.command()
def send(
    payables: Annotated[str, typer.Argument(help="Payables export: a local path or an s3:// URI.")],
    company: Annotated[str, typer.Option("--company", help="Company id in the configuration.")],
    send_mode: Annotated[
        str, typer.Option("--send-mode", help="Pagero sendMode: Production, Test or Certification.")
    ] = "",
    allow_partial: Annotated[bool, typer.Option("--allow-partial")] = False,
    format_: Annotated[Pain001Version, typer.Option("--format")] = Pain001Version.V03,
    as_json: JsonOption = False,
) -> None:
    """Run the send-payment-file flow in this process: validate, build, archive, deliver once."""
    _send(
        payables,
        company=company,
        send_mode=send_mode,
        allow_partial=allow_partial,
        format_=format_,
        as_json=as_json,
    )


def _send(
    payables: str,
    *,
    company: str,
    send_mode: str,
    allow_partial: bool,
    format_: Pain001Version,
    as_json: bool,
) -> NoReturn:
    from paydag.payables import PayablesUnreadable
    from paydag.settings import ConfigurationError

    doc: dict[str, Any] = {"command": "send", "payables": payables, "company": company}
    settings = _settings_for(company, doc, as_json)
    _prefect_environment(settings.home)
    from flows.send_payments import send_payment_file
    from paydag.send import BatchInvalid

    try:
        result = send_payment_file(
            payables=payables,
            company=company,
            send_mode=send_mode or settings.send_mode,
            allow_partial=allow_partial,
            file_format=format_.value,
        )
    except BatchInvalid as exc:
        errors = exc.report.errors
        lines = [
            str(exc),
            *(f"row {e.row} payment {e.payment_id or '-'}: {e.field}: {e.reason}" for e in errors),
        ]
        _emit(
            as_json,
            {**doc, "status": "invalid", "errors": [e.as_dict() for e in errors]},
            lines,
            Exit.INVALID,
        )
    except (PayablesUnreadable, ConfigurationError) as exc:
        _emit(as_json, {**doc, "status": "unreadable", "error": str(exc)}, [f"error: {exc}"], Exit.UNREADABLE)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        _emit(as_json, {**doc, "status": "failed", "error": message}, [f"error: {message}"], Exit.FAILED)
    if result["uploaded"]:
        head = f"sent batch {result['msg_id']} ({result['payments']} payments, {result['ctrl_sum']}) as provider file {result['provider_file_id']}"
    else:
        head = f"batch {result['msg_id']} was already sent as provider file {result['provider_file_id']}: nothing sent again"
    lines = [head, f"raw file: {result['raw_key']}", f"provider processing: {result['provider_status']}"]
    _emit(
        as_json, {**doc, "status": "sent" if result["uploaded"] else "already-sent", **result}, lines, Exit.OK
    )


@app.command()
def status(
    company: Annotated[str | None, typer.Option("--company")] = None,
    awaiting: Annotated[
        bool, typer.Option("--awaiting", help="Only payments without a final state.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Batches, their files and payments with their states, from the payment register."""
    from paydag.resources import open_register
    from paydag.settings import load_settings

    settings = load_settings()
    register = open_register(settings)
    try:
        batches = register.batches(company)
        if awaiting:
            cutoff = _awaiting_cutoff(settings)
            payments = register.awaiting_return_report(cutoff, company)
        else:
            payments = register.payments(company_id=company)
    finally:
        register.close()
    shown = [p.as_row() for p in payments]
    doc = {
        "command": "status",
        "batches": [
            {
                "msg_id": b.msg_id,
                "company": b.company,
                "state": b.state.value,
                "payments": b.nb_of_txs,
                "ctrl_sum": b.ctrl_sum,
                "provider_file_id": b.provider_file_id,
                "file_state": b.file_state,
                "raw_key": b.raw_key,
            }
            for b in batches
        ],
        "payments": shown,
    }
    lines = [
        f"{b['msg_id']}  {b['company']:<10} {b['state']:<8} {b['payments'] or 0:>6} payments  {b['ctrl_sum'] or '':>14}"
        f"  file {b['provider_file_id'] or '-'} {b['file_state'] or ''}"
        for b in doc["batches"]
    ] or ["no batches"]
    lines += [
        f"  {p['payment_id']:<14} {p['state']:<9} {p['execution_date']} {p['amount']:>12} {p['currency']} "
        f"{p['account']:<22} {p['creditor']}" + (f"  ({p['reason']})" if p["reason"] else "")
        for p in shown
    ]
    _emit(as_json, doc, lines, Exit.OK)


def _awaiting_cutoff(settings: Any) -> date:
    from paydag.bankdays import bank_days_before

    return bank_days_before(settings.today(), settings.awaiting_bank_days)


@app.command()
def poll(
    company: Annotated[
        str | None, typer.Option("--company", help="One company; every configured one if left out.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run the poll-return-files flow in this process: fetch, keep, apply and acknowledge bank files."""
    doc: dict[str, Any] = {"command": "poll", "company": company}
    settings = _settings_for(company, doc, as_json)
    _prefect_environment(settings.home)
    from flows.poll_returns import poll_return_files

    try:
        summary = poll_return_files(company=company)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        _emit(as_json, {**doc, "status": "failed", "error": message}, [f"error: {message}"], Exit.FAILED)
    lines = [
        f"{c}: {s['files']} file(s), {s['acknowledged']} acknowledged, {s['payments_changed']} payment change(s), "
        f"{s['incoming_payments']} incoming payment(s)"
        + (f", quarantined: {', '.join(s['quarantined'])}" if s["quarantined"] else "")
        for c, s in summary.items()
    ]
    _emit(as_json, {**doc, "status": "polled", "companies": summary}, lines, Exit.OK)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="A Swedbank Pay transaction list (XML, v1 or v2).")],
    as_json: JsonOption = False,
) -> None:
    """Check a settlement report with its expectation suite: 0 valid, 1 invalid (every failed check), 2 unreadable."""
    from paydag.formats.settlement import parse_settlement
    from paydag.formats.xml import FormatError
    from paydag.validation import validate_settlement

    doc: dict[str, Any] = {"command": "validate", "file": str(file)}
    try:
        report = parse_settlement(file.read_bytes(), file.name)
    except OSError as exc:
        _emit(as_json, {**doc, "error": str(exc)}, [f"error: {file}: {exc.strerror}"], Exit.UNREADABLE)
    except FormatError as exc:
        _emit(as_json, {**doc, "error": str(exc)}, [f"error: {exc}"], Exit.UNREADABLE)
    result = validate_settlement(report)
    doc |= {"accounting_no": report.accounting_no, "suite": result.suite, "valid": result.success,
            "checks": [c.as_row() for c in result.checks]}  # fmt: skip
    if result.success:
        lines = [f"{file}: {report.accounting_no} passes all {len(result.checks)} checks of {result.suite}"]
        _emit(as_json, doc, lines, Exit.OK)
    lines = [
        f"{file}: {report.accounting_no} fails {len(result.failed)} of {len(result.checks)} checks of {result.suite}:"
    ]
    lines += [
        f"  {c.expectation} ({c.column or 'table'}): observed {c.observed}"
        + (
            f", {c.unexpected_count} unexpected row(s), first {', '.join(c.first_unexpected)}"
            if c.unexpected_count
            else ""
        )
        + (f" — {c.reason}" if c.reason else "")
        for c in result.failed
    ]
    _emit(as_json, doc, lines, Exit.INVALID)


@app.command()
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
    settings = _settings_for(company, doc, as_json)
    _prefect_environment(settings.home)
    from flows.ingest_settlement import ingest_settlement_report
    from paydag.formats.xml import FormatError
    from paydag.ingest import SettlementInvalid

    try:
        result = ingest_settlement_report(source=source, company=company, force=force)
    except SettlementInvalid as exc:
        lines = [
            str(exc),
            *(
                f"  {c.expectation} ({c.column or 'table'}): observed {c.observed}"
                for c in exc.validation.failed
            ),
        ]
        _emit(
            as_json,
            {
                **doc,
                "status": "invalid",
                "error": str(exc),
                "checks": [c.as_row() for c in exc.validation.failed],
            },
            lines,
            Exit.INVALID,
        )
    except (FormatError, FileNotFoundError) as exc:
        _emit(as_json, {**doc, "status": "unreadable", "error": str(exc)}, [f"error: {exc}"], Exit.UNREADABLE)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        _emit(as_json, {**doc, "status": "failed", "error": message}, [f"error: {message}"], Exit.FAILED)
    if "reports" in result:  # the inbox: each new report
        lines = [
            f"{src}: {r['state']} {r.get('accounting_no', '')}".rstrip()
            for src, r in result["reports"].items()
        ]
        _emit(as_json, {**doc, "status": "done", **result}, lines or ["no new settlement reports"], Exit.OK)
    if result["state"] == "ALREADY":
        head = f"{result['accounting_no']} was ingested before: nothing to do (--force to ingest again)"
    else:
        head = (
            f"{result['accounting_no']}: {result['rows']} rows valid and curated at {result['curated_path']}"
        )
    lines = [head, f"raw file: {result['raw_key']}"]
    _emit(as_json, {**doc, "status": result["state"].lower(), **result}, lines, Exit.OK)


@app.command()
def reconcile(
    settlement: Annotated[
        list[Path], typer.Option("--settlement", help="Settlement report(s): the XML or curated Parquet.")
    ],
    captures: Annotated[
        Path, typer.Option("--captures", help="Captures export (payments API shape), CSV or Parquet.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Directory for the report (Parquet and CSV).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Day the ages are counted to (YYYY-MM-DD).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Reconcile settlement rows with captured transactions: every state, with counts."""
    import pandas as pd

    from paydag.formats.settlement import parse_settlement
    from paydag.formats.xml import FormatError
    from paydag.reconcile import (
        CapturesUnreadable,
        read_captures,
        reconcile_settlement,
        state_counts,
        write_report,
    )
    from paydag.settings import load_settings

    doc: dict[str, Any] = {
        "command": "reconcile",
        "settlement": [str(p) for p in settlement],
        "captures": str(captures),
    }
    try:
        tables = []
        for path in settlement:
            if path.suffix.lower() == ".parquet":
                tables.append(pd.read_parquet(path))
            else:
                report = parse_settlement(path.read_bytes(), path.name)
                tables.append(report.rows.assign(accounting_no=report.accounting_no))
        rows = pd.concat(tables, ignore_index=True)
        exported = read_captures(captures)
        day = date.fromisoformat(as_of) if as_of else load_settings().today()
    except (OSError, FormatError, CapturesUnreadable, ValueError) as exc:
        _emit(as_json, {**doc, "error": str(exc)}, [f"error: {exc}"], Exit.UNREADABLE)
    result = reconcile_settlement(rows, exported, as_of=day)
    counts = state_counts(result)
    doc |= {"as_of": day.isoformat(), "rows": len(result), "counts": counts}
    if out:
        doc["out"] = [str(p) for p in write_report(result, out, day)]
    open_items = result[~result["state"].isin(["matched", "reversal linked"])]
    lines = [
        f"{len(result)} row(s) reconciled as of {day}: "
        + ", ".join(f"{n} {state}" for state, n in counts.items())
    ]
    lines += [
        f"  {r.state:<25} {r.transaction_no}  settled {r.settled_minor}  captured {r.captured_minor}"
        for r in open_items.head(50).itertuples()
    ]
    doc["open"] = (
        open_items.head(1000).astype(object).where(open_items.head(1000).notna(), None).to_dict("records")
    )
    _emit(as_json, doc, lines + ([f"report written to {out}"] if out else []), Exit.OK)


@app.command("reconcile-incoming")
def reconcile_incoming_command(
    bills: Annotated[
        Path | None,
        typer.Option(
            "--bills",
            help="Open bills: CSV with bill_no, payment_reference, amount; the synced PayEx bills if left out.",
        ),
    ] = None,
    company: Annotated[str, typer.Option("--company")] = "demo",
    as_json: JsonOption = False,
) -> None:
    """Incoming payments in the register (camt.054 credit) against open bills by OCR."""
    import pandas as pd

    from paydag.reconcile import CapturesUnreadable, incoming_exceptions, read_bills, reconcile_incoming
    from paydag.resources import open_register

    doc: dict[str, Any] = {
        "command": "reconcile-incoming",
        "bills": str(bills or "synced"),
        "company": company,
    }
    settings = _settings_for(company, doc, as_json)
    try:
        if bills is None:
            from paydag.sync import bills_for_reconciliation

            open_bills = bills_for_reconciliation(settings.curated_dir)
        else:
            open_bills = read_bills(bills)
    except (CapturesUnreadable, FileNotFoundError) as exc:
        _emit(as_json, {**doc, "error": str(exc)}, [f"error: {exc}"], Exit.UNREADABLE)
    register = open_register(settings)
    try:
        columns = [
            "id",
            "ocr",
            "amount_minor",
            "currency",
            "payer_name",
            "receiving_account",
            "booking_date",
            "file_id",
        ]
        incoming = pd.DataFrame([vars(p) for p in register.incoming_payments(company)], columns=columns)
        result = reconcile_incoming(incoming, open_bills)
        items, matched = incoming_exceptions(result)
        update = register.update_exceptions(
            "incoming", open_items=items, matched_keys=matched, resolution=f"matched against {bills.name if bills else 'the synced PayEx bills'}", now=datetime.now(UTC)
        )  # fmt: skip
    finally:
        register.close()
    doc["exceptions"] = {
        "opened": update.opened,
        "still_open": update.still_open,
        "resolved": update.resolved,
    }
    counts = {str(k): int(v) for k, v in result["state"].value_counts().sort_index().items()}
    rows = result[["ocr", "bill_no", "amount_minor", "booking_date", "state", "outstanding_minor"]]
    doc |= {"counts": counts, "rows": rows.astype(object).where(rows.notna(), None).to_dict("records")}
    lines = [
        f"{len(result)} incoming payment(s): " + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none")
    ]
    lines += [f"  {r.ocr}  {r.amount_minor:>10}  {r.state:<18} bill {r.bill_no}" for r in rows.itertuples()]
    _emit(as_json, doc, lines, Exit.OK)


@app.command()
def sandbox(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8900,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="Default: PAYDAG_HOME/sandbox")
    ] = None,
) -> None:
    """Run the provider sandbox (Pagero's API contract, with fault injection) in the foreground."""
    from paydag.settings import load_settings
    from sandbox.server import PortInUse, serve

    directory = state_dir or load_settings().home / "sandbox"
    print(f"paydag sandbox on http://{host}:{port} (state in {directory}); Ctrl-C stops it", file=sys.stderr)
    try:
        serve(directory, host=host, port=port)
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(int(Exit.UNREADABLE)) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()

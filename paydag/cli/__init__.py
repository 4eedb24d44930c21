"""The `paydag` command: the one composition root. It reads the settings, builds what a command needs
and hands it to the domain code; flows are imported lazily, per command.

Exit codes: 0 success; 1 the input is invalid (every reason printed); 2 the input could not be read or
is of an unsupported kind; 3 the run failed for another reason (provider or storage unavailable,
another run holding the company's claim), and can be run again. `--json` prints one JSON document on stdout.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer

from paydag.formats.pain001 import Pain001Version
from paydag.register.claims import Work

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


def _print(as_json: bool, document: dict[str, Any], lines: list[str], stream: Any = None) -> None:
    if as_json:
        typer.echo(json.dumps(document, indent=2, default=str, ensure_ascii=False))
    else:
        for line in lines:
            print(line, file=stream or sys.stdout, flush=True)


def _emit(as_json: bool, document: dict[str, Any], lines: list[str], code: Exit) -> NoReturn:
    _print(as_json, document, lines, sys.stdout if code is Exit.OK else sys.stderr)
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


@app.command("demo")
def demo_command(
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the server, sandbox and worker running afterwards.")
    ] = False,
    prefect_port: Annotated[
        int, typer.Option("--prefect-port", help="Port of the Prefect server and UI.")
    ] = 4200,
    sandbox_port: Annotated[int, typer.Option("--sandbox-port", help="Port of the provider sandbox.")] = 8900,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds any one step may take.")] = 300,
    as_json: JsonOption = False,
) -> None:
    """Run the daily cycle the way production does, on the embedded defaults: a Prefect server, the
    provider sandbox and a worker; the deployments; send (the bank refuses one payment), the bank's
    day, poll, incoming payments routed, the settlement report ingested and validated (started by the
    poll's event), reconciled (started by the ingest's event); a summary and the UI address."""
    import signal
    import subprocess

    import httpx

    from paydag.cli import demo as d
    from paydag.settings import load_settings

    # Ctrl-C, and a `kill` too, stop what the demo started (a shell's background job ignores SIGINT).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    settings = load_settings()
    settings = load_settings(home=settings.home.resolve())  # the worker's flow runs start elsewhere
    settings.home.mkdir(parents=True, exist_ok=True)
    day = d.DemoDay(settings.today(), settings.company("demo").provider_company_id)
    stack = d.Stack(settings.home)
    doc: dict[str, Any] = {"command": "demo"}
    try:
        _progress("starting the provider sandbox, a Prefect server and a worker ...")
        sandbox_url = stack.sandbox(sandbox_port)
        ui = stack.prefect_server(prefect_port, d.prefect_env(settings))
        env = d.prefect_env(settings, ui)
        d.prefect_cli(
            env,
            "work-pool",
            "create",
            "paydag",
            "--type",
            "process",
            "--overwrite",
            step="creating the work pool",
        )
        d.prefect_cli(env | {"PAYDAG_CHECKOUT": str(d.REPO)}, "--no-prompt", "deploy", "--all",
                      "--prefect-file", "deployments/prefect.yaml", step="deploying")  # fmt: skip
        captures = day.captures_export(settings.home / "demo" / f"captures-{day.today}.csv")
        stack.worker(d.worker_env(settings, ui, sandbox_url, captures))
        d.prepare_sandbox(sandbox_url, day)
        payables = day.payables(settings.home / "demo")
        runs = _demo_cycle(ui, sandbox_url, day, payables, timeout)
        doc |= {"status": "done", "ui": ui, "runs": runs,
                **d.summary(settings, day, d.report_path(settings))}  # fmt: skip
    except d.PortTaken as exc:
        stack.stop()
        _emit(as_json, {**doc, "status": "failed", "error": str(exc)}, [f"error: {exc}"], Exit.UNREADABLE)
    except (d.DemoError, httpx.HTTPError, subprocess.SubprocessError, OSError) as exc:
        stack.stop()
        message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, d.DemoError) else str(exc)
        _emit(as_json, {**doc, "status": "failed", "error": message},
              [f"error: {message}", f"logs: {stack.logs}"], Exit.FAILED)  # fmt: skip
    except BaseException:
        stack.stop()
        raise
    lines = [
        *d.iter_lines(doc),
        *(f"flow run {r['name']}: {r['state']}  {r['url']}" for r in runs["all"]),
        f"Prefect UI: {ui}",
    ]
    if not keep_running:
        stack.stop()
        _emit(
            as_json,
            doc,
            [*lines, "stopped the server, the sandbox and the worker (--keep-running keeps them)"],
            Exit.OK,
        )
    _print(
        as_json,
        doc,
        [
            *lines,
            f"the server, the sandbox ({sandbox_url}) and the worker keep running; Ctrl-C or kill stops them",
        ],
    )
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    raise typer.Exit(int(Exit.OK))


PROVIDER_TAGS = ("pagero-api", "payex-api", "autogiro-api")  # the tags of the tasks that call a provider


def _settlement_stored(client: Any, run_id: Any) -> bool:
    """Whether a poll run stored a settlement report (its paydag.file.stored event says so)."""
    from tasks.events import FILE_STORED, KIND_LABEL

    body = {"filter": {"event": {"name": [FILE_STORED]}, "related": {"id": [f"prefect.flow-run.{run_id}"]}}}
    found = client.request("POST", "/events/filter", json=body).json()["events"]
    return any(e["resource"].get(KIND_LABEL) == "settlement" for e in found)


def _progress(line: str) -> None:
    """What the demo is doing now, on stderr (stdout carries the summary or the --json document)."""
    print(line, file=sys.stderr, flush=True)


def _demo_cycle(ui: str, sandbox_url: str, day: Any, payables: Path, timeout: float) -> dict[str, Any]:
    """The day's flow runs, started as operations would (run_deployment) or by the deployments' triggers."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.deployments import run_deployment
    from prefect.events.schemas.automations import AutomationCore
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from paydag.cli import demo as d

    finished: list[Any] = []

    def wait(client: Any, run_id: Any, step: str) -> Any:
        holder: dict[str, Any] = {}

        def done() -> bool:
            holder["run"] = client.read_flow_run(run_id)
            return holder["run"].state is not None and holder["run"].state.is_final()

        d.wait_until(done, step=step, timeout=timeout)
        run = holder["run"]
        if not run.state.is_completed():
            raise d.DemoError(
                f"{step}: flow run {run.name} ended {run.state.name}: {run.state.message} ({ui}/runs/flow-run/{run.id})"
            )
        finished.append(run)
        return run

    def triggered(client: Any, deployment: str, since: Any, step: str) -> Any:
        """The run a deployment's trigger started after `since`, once it has finished."""
        found: dict[str, Any] = {}

        def started() -> bool:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[deployment]))
            )
            new = [r for r in runs if r.created and r.created >= since]
            if new:
                found["run"] = min(new, key=lambda r: r.created)
            return bool(new)

        d.wait_until(started, step=f"{step} (waiting for the trigger)", timeout=timeout)
        return wait(client, found["run"].id, step)

    with temporary_settings(updates={PREFECT_API_URL: f"{ui}/api"}), get_client(sync_client=True) as client:
        for deployment in client.read_deployments():
            for schedule in deployment.schedules:  # the demo's runs only: no scheduled poll cancels its poll
                client.update_deployment_schedule(deployment.id, schedule.id, active=False)
        for tag in PROVIDER_TAGS:  # provider calls: at most 4 at a time per provider, across all runs
            client.create_concurrency_limit(tag=tag, concurrency_limit=4)
        if not client.read_automations_by_name("crash-zombie-flow-runs"):
            import yaml

            spec = yaml.safe_load(
                (d.REPO / "deployments/automations/crash-zombie-flow-runs.yaml").read_text()
            )
            client.create_automation(AutomationCore.model_validate(spec))

        _progress("sending the day's supplier payments; syncing PayEx credit accounts ...")
        sync = run_deployment("sync-credit-accounts/sync-credit-accounts", timeout=0, as_subflow=False)
        send = run_deployment(
            "send-payment-file/send-payment-file", as_subflow=False, timeout=0,
            parameters={"payables": str(payables), "company": "demo", "send_mode": "Test"},
        )  # fmt: skip
        wait(client, send.id, "sending the payment file")
        wait(client, sync.id, "syncing the credit accounts")

        _progress("the bank's day: bookings, incoming rent, Swedbank Pay's settlement ...")
        closed = d.close_the_day(sandbox_url, day)
        _progress(
            "polling return files (the settlement report triggers its ingest, then its reconciliation) ...",
        )
        poll = run_deployment("poll-return-files/poll-return-files", parameters={"company": "demo"},
                              as_subflow=False, timeout=0)  # fmt: skip
        poll_run = wait(client, poll.id, "polling return files")
        if closed["document_id"] or _settlement_stored(
            client, poll_run.id
        ):  # else settled by an earlier demo
            ingest = triggered(
                client, "ingest-settlement-report", poll_run.created, "ingesting the settlement report"
            )
            triggered(client, "reconcile-settlement", ingest.created, "reconciling the settlement report")
    return {
        "all": [{"name": r.name, "deployment": str(r.deployment_id), "state": r.state.name,
                 "url": f"{ui}/runs/flow-run/{r.id}"} for r in finished],
    }  # fmt: skip


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


def _run_environment(settings: Any) -> None:
    """Before Prefect is imported, for a flow run in this process: Prefect's state under PAYDAG_HOME and
    time for a local API to start; the sandbox's test credentials for a provider on this machine."""
    import os

    from paydag.cli.demo import PREFECT_SERVER_SETTINGS
    from sandbox.credentials import environment

    prefect_home = Path(os.environ.setdefault("PREFECT_HOME", str((settings.home / "prefect").resolve())))
    prefect_home.mkdir(parents=True, exist_ok=True)  # its SQLite database cannot be opened otherwise
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    sandbox = environment(pagero_url=settings.pagero_base_url, payex_url=settings.payex_base_url,
                          autogiro_url=settings.autogiro_base_url)  # fmt: skip
    for name, value in (PREFECT_SERVER_SETTINGS | sandbox).items():
        os.environ.setdefault(name, value)


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
    _run_environment(settings)
    from flows.send_payments import send_payment_file
    from paydag.register import ClaimError
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
    except ClaimError as exc:  # another send of the company holds its claim, or this one lost it
        _emit(as_json, {**doc, "status": "claim", "error": str(exc)}, [f"error: {exc}"], Exit.FAILED)
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
    from paydag.register import Work
    from paydag.resources import open_register
    from paydag.settings import load_settings

    settings = load_settings()
    register = open_register(settings)
    try:
        now = register.claims.now()
        claims = [
            register.claims.claim(work, c) for c in ([company] if company else sorted(settings.companies))
            for work in Work
        ]  # fmt: skip
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
        "claims": [c.as_dict() for c in claims],
    }
    lines = [f"{c.company} {c.work} claim: {c.describe(now)}" for c in claims]
    lines += [
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
    _run_environment(settings)
    from flows.poll_returns import poll_return_files
    from paydag.register import ClaimError

    try:
        summary = poll_return_files(company=company)
    except ClaimError as exc:  # another poll holds the company's claim, or this one lost it
        _emit(as_json, {**doc, "status": "claim", "error": str(exc)}, [f"error: {exc}"], Exit.FAILED)
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
def unlock(
    company: Annotated[str, typer.Option("--company", help="Company id in the configuration.")],
    what: Annotated[Work, typer.Option("--what", help="The claim: poll or send.")],
    yes: Annotated[bool, typer.Option("--yes", help="Clear without asking.")] = False,
    by: Annotated[
        str, typer.Option("--as", help="Who clears it (recorded); this user on this host if left out.")
    ] = "",
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Clear a company's poll or send claim that a stuck run holds (after asking), recorded as an event."""
    import getpass
    import socket

    import click

    from paydag.resources import open_register

    doc: dict[str, Any] = {"command": "unlock", "company": company, "what": what.value}
    settings = _settings_for(company, doc, as_json)
    register = open_register(settings)
    try:
        shown = register.claims.claim(what, company)
        if shown.holder is None:
            _emit(
                as_json,
                {**doc, "status": "free"},
                [f"the {what} claim of {company} is free: nothing to clear"],
                Exit.OK,
            )
        print(f"the {what} claim of {company} is {shown.describe(register.claims.now())}", file=sys.stderr)
        try:
            agreed = yes or typer.confirm(
                "Clear it? A run still working would stop before its next step", default=False, err=True
            )
        except click.exceptions.Abort:  # no answer (no terminal, end of input)
            agreed = False
        if not agreed:
            _emit(
                as_json, {**doc, "status": "kept", "claim": shown.as_dict()}, ["left as it is"], Exit.INVALID
            )
        who = by or f"{getpass.getuser()} on {socket.gethostname()}"
        cleared = register.claims.clear(what, company, by=who, reason=reason or None, expected=shown)
    finally:
        register.close()
    if cleared is None:
        _emit(as_json, {**doc, "status": "changed"}, [f"the {what} claim of {company} changed hands meanwhile: "
              "nothing cleared; look again with paydag status"], Exit.FAILED)  # fmt: skip
    _emit(as_json, {**doc, "status": "cleared", "claim": cleared.as_dict(), "by": who},
          [f"cleared the {what} claim of {company} (held by {cleared.holder}), recorded as done by {who}"], Exit.OK)  # fmt: skip


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
    _run_environment(settings)
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

    from paydag.reconcile import (
        CapturesUnreadable,
        incoming_exceptions,
        incoming_frame,
        read_bills,
        reconcile_incoming,
    )
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
        incoming = incoming_frame(register.incoming_payments(company))
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

"""The `paydag` command: the one composition root. It reads the settings, builds what a command needs
and hands it to the domain code; flows are imported lazily, per command.

Exit codes: 0 success; 1 the input is invalid (every reason printed); 2 the input could not be read or
is of an unsupported kind. `--json` prints one JSON document on stdout.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
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
    """Run the daily cycle on the embedded defaults: build today's supplier payment file for `demo`."""
    from paydag.samples import sample_payables, write_payables_csv
    from paydag.settings import load_settings

    settings = load_settings()
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    workdir = settings.home / "demo"
    payables = write_payables_csv(
        sample_payables(12, company="demo", first_day=today + timedelta(days=1)), workdir / "payables.csv"
    )
    _build(
        payables,
        company="demo",
        out=workdir / "pain001.xml",
        format_=Pain001Version.V03,
        allow_partial=False,
        today=today.isoformat(),
        as_json=as_json,
    )


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
        as_of = date.fromisoformat(today) if today else datetime.now(tz).date()
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()

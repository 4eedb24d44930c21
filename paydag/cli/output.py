"""What a command prints and how it exits: one JSON document or lines, and one table from the
exceptions the library raises to the exit codes.

Exit codes: 0 success; 1 the input is invalid (every reason printed); 2 the input could not be read,
is of an unsupported kind, or the command cannot run here (no configuration, no Prefect project);
3 the run failed for another reason (a provider or storage unavailable, another run holding the
company's claim) and can be run again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Annotated, Any, NoReturn

import click
import typer


class Exit(IntEnum):
    OK = 0
    INVALID = 1
    UNREADABLE = 2
    FAILED = 3


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Check as of this moment, cut-offs too (YYYY-MM-DDTHH:MM, Europe/Stockholm)."),
]
MoveOption = Annotated[
    bool,
    typer.Option(
        "--move-to-next-bank-day",
        help="Move a payment past its cut-off, or due on a closed day, to the next possible date.",
    ),
]


class Invalid(Exception):
    """The input was read and is wrong (exit 1); the message says where."""


class Unreadable(Exception):
    """The input could not be read or is of a kind this command does not take (exit 2)."""


Render = Callable[[BaseException], tuple[list[str], dict[str, Any]]]


def _message(exc: BaseException) -> tuple[list[str], dict[str, Any]]:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return [f"error: {text}"], {"error": text}


def _unexpected(exc: BaseException) -> tuple[list[str], dict[str, Any]]:
    text = f"{type(exc).__name__}: {exc}"
    return [f"error: {text}"], {"error": text}


def _batch_invalid(exc: Any) -> tuple[list[str], dict[str, Any]]:
    errors = exc.report.errors
    lines = [str(exc), *(f"row {e.row} payment {e.payment_id or '-'}: {e.field}: {e.reason}" for e in errors)]
    return lines, {"errors": [e.as_dict() for e in errors]}


def _settlement_invalid(exc: Any) -> tuple[list[str], dict[str, Any]]:
    failed = exc.validation.failed
    lines = [str(exc), *(f"  {c.expectation} ({c.column or 'table'}): observed {c.observed}" for c in failed)]
    return lines, {"error": str(exc), "checks": [c.as_row() for c in failed]}


# The one table, most specific first: "module:Class" → exit code, the status in --json, what to print.
# By name, so that a command imports only what it uses: an exception whose module was never imported
# cannot have been raised.
EXIT_CODES: tuple[tuple[str, Exit, str, Render], ...] = (
    ("paydag.send:BatchInvalid", Exit.INVALID, "invalid", _batch_invalid),
    ("paydag.send:BatchNotApproved", Exit.INVALID, "not-approved", _message),
    ("paydag.ingest:SettlementInvalid", Exit.INVALID, "invalid", _settlement_invalid),
    ("paydag.formats.pain001:Pain001SchemaError", Exit.INVALID, "invalid", _message),
    ("paydag.cli.output:Invalid", Exit.INVALID, "invalid", _message),
    ("paydag.cli.output:Unreadable", Exit.UNREADABLE, "unreadable", _message),
    ("paydag.formats.xml:FormatError", Exit.UNREADABLE, "unreadable", _message),
    ("paydag.payables:PayablesUnreadable", Exit.UNREADABLE, "unreadable", _message),
    ("paydag.reconcile:CapturesUnreadable", Exit.UNREADABLE, "unreadable", _message),
    ("paydag.settings:ConfigurationError", Exit.UNREADABLE, "unreadable", _message),
    ("paydag.cli.runtime:ProjectMissing", Exit.UNREADABLE, "unreadable", _message),
    ("builtins:FileNotFoundError", Exit.UNREADABLE, "unreadable", _message),
    ("paydag.register.claims:ClaimError", Exit.FAILED, "claim", _message),
    ("builtins:Exception", Exit.FAILED, "failed", _unexpected),
)


def classify(exc: BaseException) -> tuple[Exit, str, Render]:
    """The table's row for an exception."""
    for name, code, status, render in EXIT_CODES:
        module, cls = name.split(":")
        kind = getattr(sys.modules.get(module), cls, None)
        if kind is not None and isinstance(exc, kind):
            return code, status, render
    return Exit.FAILED, "failed", _unexpected


def show(as_json: bool, document: dict[str, Any], lines: list[str], stream: Any = None) -> None:
    if as_json:
        typer.echo(json.dumps(document, indent=2, default=str, ensure_ascii=False))
    else:
        # One write: a batch's warnings can be tens of thousands of lines, and a flush each took
        # longer than checking their rows.
        out = stream or sys.stdout
        out.write("".join(f"{line}\n" for line in lines))
        out.flush()


def emit(as_json: bool, document: dict[str, Any], lines: list[str], code: Exit = Exit.OK) -> NoReturn:
    """Print the outcome (errors on stderr) and exit with `code`."""
    show(as_json, document, lines, sys.stdout if code is Exit.OK else sys.stderr)
    raise typer.Exit(int(code))


@contextmanager
def failures(
    doc: dict[str, Any],
    as_json: bool,
    *,
    unreadable: tuple[type[BaseException], ...] = (),
    invalid: tuple[type[BaseException], ...] = (),
) -> Iterator[None]:
    """Turn what the library raises in the block into its exit code and message (EXIT_CODES);
    `unreadable` and `invalid` name what means that in this step only (an OSError reading the input)."""
    try:
        yield
    except (typer.Exit, click.exceptions.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if isinstance(exc, invalid):
            code, status, render = Exit.INVALID, "invalid", _message
        elif isinstance(exc, unreadable):
            code, status, render = Exit.UNREADABLE, "unreadable", _message
        else:
            code, status, render = classify(exc)
        lines, extra = render(exc)
        emit(as_json, {**doc, "status": status, **extra}, lines, code)

"""The `paydag` command: the one composition root. It reads the settings, builds what a command needs
and hands it to the domain code; flows are imported lazily, per command.

One module per command group: files (build-pain001, parse, validate, reconcile: they run from an
installed wheel anywhere), runs (send, poll, ingest: a flow in this process), register (status,
unlock, reconcile-incoming), demo (demo, sandbox). output holds the exit codes and the one table from
exceptions to them; runtime finds the Prefect project and prepares a flow run.
"""

from __future__ import annotations

import typer

from paydag.cli import demo, files, register, runs
from paydag.cli.output import Exit

__all__ = ["Exit", "app", "main"]

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


for name, command in [
    ("build-pain001", files.build_pain001),
    ("parse", files.parse),
    ("validate", files.validate),
    ("reconcile", files.reconcile),
    ("send", runs.send),
    ("poll", runs.poll),
    ("ingest", runs.ingest),
    ("status", register.status),
    ("unlock", register.unlock),
    ("approve", register.approve),
    ("reject", register.reject),
    ("reconcile-incoming", register.reconcile_incoming),
    ("replay", register.replay),
    ("reconcile-statement", register.reconcile_statement),
    ("demo", demo.demo),
    ("sandbox", demo.sandbox),
]:
    app.command(name)(command)


def main() -> None:
    app()

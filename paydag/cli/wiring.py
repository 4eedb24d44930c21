"""The `paydag` command's typer app: every command, by name, from its module (`paydag.cli.app`)."""

from __future__ import annotations

import typer

from paydag.cli import demo, files, register, runs

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

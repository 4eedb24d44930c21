"""The `paydag` command: the one composition root. It reads the settings, builds what a command needs
and hands it to the domain code; flows are imported lazily, per command.

One module per command group: files (build-pain001, parse, validate, reconcile: they run from an
installed wheel anywhere), runs (send, poll, ingest: a flow in this process), register (status,
unlock, reconcile-incoming), demo (demo, sandbox). output holds the exit codes and the one table from
exceptions to them; runtime finds the Prefect project and prepares a flow run.
"""

from __future__ import annotations

import gc
import logging
import os
import sys

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


# The file commands are done once they have printed; what is left is the interpreter freeing
# pandas', pyarrow's and GX's objects one by one (about a second after `paydag validate` on a
# million rows). They leave at once instead, their output flushed, as mypy does. Commands that run
# flows or start servers exit normally: Prefect's log and event handlers flush at exit.
EXIT_AT_ONCE = frozenset({"build-pain001", "parse", "validate", "reconcile"})


def main() -> None:
    if sys.argv[1:2] == ["build-pain001"]:
        # A batch's objects all live to the exit: the collector would only walk them (0.05 s after
        # 100 000 payables), and what cycles there are go with the process a moment later.
        gc.disable()
    try:
        app()
    except SystemExit as done:
        if sys.argv[1:2] and sys.argv[1] in EXIT_AT_ONCE:
            _exit_at_once(done.code)
        raise


def _exit_at_once(code: object) -> None:
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # what SystemExit("message") prints
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)

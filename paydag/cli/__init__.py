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
from pathlib import Path
from typing import Any

__all__ = ["Exit", "app", "main"]


def __getattr__(name: str) -> Any:
    # The commands are imported when first asked for: `main` may read a file ahead before.
    if name == "app":
        from paydag.cli.wiring import app

        return app
    if name == "Exit":
        from paydag.cli.output import Exit

        return Exit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The file commands are done once they have printed; what is left is the interpreter freeing
# pandas', pyarrow's and GX's objects one by one (about a second after `paydag validate` on a
# million rows). They leave at once instead, their output flushed, as mypy does. Commands that run
# flows or start servers exit normally: Prefect's log and event handlers flush at exit.
EXIT_AT_ONCE = frozenset({"build-pain001", "parse", "validate", "reconcile"})


# The file commands that read a settlement report where it lies start reading its rows before anything
# else is imported. Not `parse`: it reads the whole file first to tell its kind, and parses those bytes.
READ_AHEAD = frozenset({"validate"})


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in READ_AHEAD:
        _read_ahead(sys.argv[2:])
    if sys.argv[1:2] == ["build-pain001"]:
        # A batch's objects all live to the exit: the collector would only walk them (0.05 s after
        # 100 000 payables), and what cycles there are go with the process a moment later.
        gc.disable()
    from paydag.cli.wiring import app

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


def _read_ahead(arguments: list[str]) -> None:
    """Each file argument that is a settlement report starts being read (xml2arrow, on a thread of its
    own, the GIL released) while the command's half second of imports runs on this one; the reader
    takes the rows read (`paydag.formats.columnar.read_ahead`)."""
    from paydag.formats.settlement.rows import read_rows_ahead

    for argument in arguments:
        if not argument.startswith("-") and Path(argument).is_file():
            read_rows_ahead(Path(argument))

"""Swedbank Pay settlement reports: the Transaction List XML, v1 (`SALES`) and v2
(`SalesAccountedTransactions`), into a typed DataFrame with every row joined to its summary line.

Two readers, one layout (layout.py) and one typing step (report.py):
- arrow_reader: xml2arrow reads the rows into Arrow columns on the other core while lxml reads the
  rest of the document; every guarantee of the lxml reader is kept (its docstring says how). It reads
  every file it can.
- lxml_reader: a streaming iterparse of the whole document. It reads what the Arrow reader declines
  (`CannotServe`: a comment between rows, rows outside a body currency, bytes xml2arrow cannot
  decode, …); the report says which reader read it and why (`reader`, `notes`).
rows.py holds the Arrow reader's mapping of the rows and reads a file's rows ahead, for a command to
start before its imports; it and this package import without pandas.
The XML is the system of record; the XLSX the portal also offers is refused (it loses leading zeros
and types).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from paydag.formats.settlement.layout import (
    ALWAYS,
    REQUIRED,
    V1_COLUMNS,
    V1_NAMESPACE,
    V2_COLUMNS,
    V2_NAMESPACE,
)
from paydag.formats.xml import FormatError

if TYPE_CHECKING:
    from paydag.formats.settlement.report import ServiceSummary, SettlementReport, service_totals

# The package imports its readers (pandas, pyarrow) when they are first used, not when it is imported:
# a command that reads a report starts reading its rows first (rows.read_rows_ahead), before pandas.
_FROM_REPORT = frozenset({"ServiceSummary", "SettlementReport", "service_totals"})


def __getattr__(name: str) -> Any:
    if name in _FROM_REPORT:
        from paydag.formats.settlement import report

        return getattr(report, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ALWAYS", "REQUIRED", "V1_COLUMNS", "V1_NAMESPACE", "V2_COLUMNS", "V2_NAMESPACE",
    "ServiceSummary", "SettlementReport", "parse_settlement", "service_totals",
]  # fmt: skip


def parse_settlement(source: bytes | IO[bytes], name: str = "settlement.xml") -> SettlementReport:
    """Parse a transaction list; FormatError (naming the file and where) when it cannot be read.

    Given a file on disk (opened, at its start), the Arrow reader reads it where it lies and its
    bytes are never all in memory; anything else is read into memory first."""
    from paydag.bulk import collector_paused, release_freed_memory
    from paydag.formats.columnar import CannotServe
    from paydag.formats.settlement.arrow_reader import read_arrow
    from paydag.formats.settlement.lxml_reader import read_lxml
    from paydag.formats.settlement.report import assemble

    path = _path_of(source)
    if path is not None:
        head = source.read(4096)
        source.seek(0)
        _refuse_other_inputs(head, name, whole=len(head) == path.stat().st_size)
        with collector_paused():  # a fifth of the time, on a million rows
            try:
                parts, notes = read_arrow(path, name)
                release_freed_memory()  # what xml2arrow built on the way, before the typing allocates
            except CannotServe as why:
                return assemble(read_lxml(source, name), reader="lxml", notes=(f"read by lxml: {why}",))
            return assemble(parts, reader="arrow", notes=notes)
    data = source if isinstance(source, bytes) else source.read()
    del source  # read from a file object, the bytes are ours alone: freed as soon as the rows are read
    _refuse_other_inputs(data, name, whole=True)
    with collector_paused():
        try:
            parts, notes = read_arrow(data, name)
            release_freed_memory()
        except CannotServe as why:
            return assemble(read_lxml(io.BytesIO(data), name), reader="lxml", notes=(f"read by lxml: {why}",))
        del data
        return assemble(parts, reader="arrow", notes=notes)


def _path_of(source: bytes | IO[bytes]) -> Path | None:
    """The regular file `source` reads, when it is one and stands at its start."""
    name = getattr(source, "name", None)
    if not isinstance(name, str) or not Path(name).is_file():
        return None
    try:
        return Path(name) if source.seekable() and source.tell() == 0 else None
    except (OSError, ValueError):
        return None


def _refuse_other_inputs(data: bytes, name: str, *, whole: bool) -> None:
    """`data` is the file's start (the whole file if `whole`)."""
    if data[:4] == b"PK\x03\x04":
        raise FormatError(
            f"{name}: this is an XLSX (or other ZIP) file; the XLSX transaction list loses leading zeros "
            "and types: give the XML transaction list instead"
        )
    if whole and (not data or data.isspace()):
        raise FormatError(f"{name}: the file is empty")

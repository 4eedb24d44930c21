"""The ERP's payables export read: a CSV (, ; or tab, UTF-8 with or without BOM) or JSON Lines file,
one row per payment, the columns checked before any row is."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from paydag.payables.batch import PayablesUnreadable

REQUIRED_COLUMNS = (
    "payment_id",
    "company",
    "creditor_name",
    "account_type",
    "account",
    "bic",
    "amount",
    "currency",
    "execution_date",
    "ocr",
    "message",
)


OPTIONAL_COLUMNS = (
    "creditor_country",
    "creditor_address",
    "creditor_street",
    "creditor_building",
    "creditor_postcode",
    "creditor_town",
    "allow_duplicate",  # a reason: this payment repeats an earlier one on purpose
)


@dataclass(frozen=True)
class PayablesTable:
    """A payables export, column by column: each column's values in row order (the text as written;
    "" where a row lacks the column) and the line of the file each row starts on."""

    lines: list[int]
    columns: dict[str, list[str]]

    def __len__(self) -> int:
        return len(self.lines)

    def column(self, name: str) -> list[str]:
        return self.columns.get(name) or [""] * len(self.lines)

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        names = list(self.columns)
        for line, values in zip(self.lines, zip(*self.columns.values(), strict=True), strict=True):
            yield line, dict(zip(names, values, strict=True))

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, Mapping[str, str | None]]]) -> PayablesTable:
        """Rows given one by one (a caller's own rows, JSON Lines), a missing value as ""."""
        lines: list[int] = []
        records: list[Mapping[str, str | None]] = []
        for line, values in rows:
            lines.append(line)
            records.append(values)
        names = dict.fromkeys(name for values in records for name in values)
        columns = {name: [values.get(name) or "" for values in records] for name in names}
        return cls(lines, columns)


def read_payables(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, raw values) from a CSV (`,` `;` or tab) or JSON Lines file.

    Row numbers are the file's line numbers, so that a user can find the row in the export.
    """
    yield from read_payables_table(path).rows()


def read_payables_table(path: Path) -> PayablesTable:
    """The export at `path` as a `PayablesTable`; `PayablesUnreadable` naming the file and line when
    it cannot be read, is empty, or lacks a required column."""
    return payables_table(open_payables(path))


@dataclass(frozen=True)
class PayablesFile:
    """An export's bytes as read: UTF-8 text that is not blank, a CSV or JSON Lines file."""

    path: Path
    data: bytes
    is_csv: bool


def open_payables(path: Path) -> PayablesFile:
    """The export at `path`, read; `PayablesUnreadable` when it cannot be read, is not UTF-8 or empty."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PayablesUnreadable(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PayablesUnreadable(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise PayablesUnreadable(f"{path}: the file is empty")
    is_json = path.suffix.lower() in {".jsonl", ".ndjson", ".json"} or text.lstrip().startswith("{")
    return PayablesFile(path, data, is_csv=not is_json)


class NotARowStart(Exception):
    """A CSV part was cut inside a quoted value: the byte it began at is not where a row begins."""


def payables_table(export: PayablesFile, start: int = 0, end: int | None = None) -> PayablesTable:
    """The rows of `export`, or of the part of a CSV from byte `start` (where a row begins; 0 is the
    file's start) to `end`, each with its line in the file. A part cut inside a quoted value raises
    `NotARowStart`: its rows would not be the file's."""
    if not export.is_csv:
        return PayablesTable.from_rows(_read_json_lines(export.path, export.data.decode("utf-8-sig")))
    # The reader decodes as it goes: the text whole, and a StringIO's four bytes a character, would
    # double the memory.
    return _read_csv(export.path, export.data, start, len(export.data) if end is None else end)


def row_start_near(export: PayablesFile, at: int) -> int | None:
    """A byte at or after `at` where a row of the CSV begins, as far as its quotes show: after a line
    break with an even count of quote characters before it (a quoted value's are paired, an escaped
    quote is two). A quote inside an unquoted value (`5" screen`) breaks that count; a part cut there
    ends inside what looks like a quoted value, and reading it raises `NotARowStart`."""
    if not export.is_csv:
        return None
    data = export.data
    quotes = data.count(b'"', 0, at)
    while (line_end := data.find(b"\n", at)) >= 0:
        quotes += data.count(b'"', at, line_end)
        at = line_end + 1
        if quotes % 2 == 0:
            return at if at < len(data) else None
    return None


def _check_columns(path: Path, columns: Iterable[str], where: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in set(columns)]
    if missing:
        raise PayablesUnreadable(f"{path}: {where} lacks the column(s) {', '.join(missing)}")


_BLOCK = 4096  # rows read as lists before they go into the columns


def _read_csv(path: Path, data: bytes, start: int, end: int) -> PayablesTable:
    end_of_header = data.find(b"\n")
    header_line = data[: end_of_header if end_of_header >= 0 else len(data)].decode("utf-8-sig")
    delimiter = max((",", ";", "\t"), key=header_line.count)
    # The header from the file's start; the rows from the part's (a part that ends early, copied).
    source = data if start or end == len(data) else data[:end]
    text = io.TextIOWrapper(io.BytesIO(source), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    lines: list[int] = []
    block: list[list[str]] = []
    first_line = 0  # the file's lines before the part's first, as the reader counts them (\n, \r\n, \r)
    try:
        header = [h.strip().lower() for h in next(reader)]
        _check_columns(path, header, "the header")
        if start:  # a later part: its rows read on their own, numbered on from the lines before
            first_line = (
                data.count(b"\n", 0, start) + data.count(b"\r", 0, start) - data.count(b"\r\n", 0, start)
            )
            text = io.TextIOWrapper(io.BytesIO(data[start:end]), encoding="utf-8", newline="")
            reader = csv.reader(text, delimiter=delimiter, strict=True)
        columns = _Columns(len(header))
        read_to = reader.line_num  # a row begins on the line after the last one read (a value may span lines)
        for values in reader:
            line, read_to = first_line + read_to + 1, reader.line_num
            # A row whose first value is given is not blank; only the others need the full look.
            if not (values and values[0].strip()) and not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise PayablesUnreadable(
                    f"{path}: line {line} has {len(values)} fields, the header {len(header)}"
                )
            lines.append(line)
            block.append(values)
            if len(block) == _BLOCK:
                columns.take(block)
        columns.take(block)
    except csv.Error as exc:
        if end < len(data) and str(exc) == "unexpected end of data":  # the part's end, not the file's
            raise NotARowStart(f"{path}: byte {end} lies inside a quoted value") from None
        raise PayablesUnreadable(f"{path}: line {first_line + reader.line_num}: {exc}") from None
    return PayablesTable(lines, dict(zip(header, columns.values, strict=True)))


class _Columns:
    """Rows gathered into columns a block at a time, one string object per distinct value of a
    column. The csv module makes a list per row and a string per field: kept whole, on 100 000 rows
    the lists and the copies of each repeated company, supplier, account and date hold about 60 MiB,
    and the lists, freed among the strings, leave memory that is not given back."""

    _DISTINCT = 4096  # a column with more distinct values than this (ids, amounts) is kept as read

    def __init__(self, width: int) -> None:
        self.values: list[list[str]] = [[] for _ in range(width)]
        self._seen: list[dict[str, str] | None] = [{} for _ in range(width)]

    def take(self, block: list[list[str]]) -> None:
        for n, column in enumerate(zip(*block, strict=True)):
            seen = self._seen[n]
            if seen is None:
                self.values[n].extend(column)
                continue
            self.values[n].extend([seen.setdefault(v, v) for v in column])
            if len(seen) > self._DISTINCT:
                self._seen[n] = None
        block.clear()


def _read_json_lines(path: Path, text: str) -> Iterator[tuple[int, dict[str, str]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            # parse_float=str keeps `1234.50` exactly as written: money never passes through a float.
            obj = json.loads(line, parse_float=str, parse_int=str)
        except json.JSONDecodeError as exc:
            raise PayablesUnreadable(f"{path}: line {number}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise PayablesUnreadable(f"{path}: line {number}: a JSON object was expected")
        _check_columns(path, obj.keys(), f"line {number}")
        yield number, {k: "" if v is None else str(v) for k, v in obj.items()}


# --- validation ----------------------------------------------------------------------------------

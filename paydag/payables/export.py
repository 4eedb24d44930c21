"""The ERP's payables export read: a CSV (, ; or tab, UTF-8 with or without BOM) or JSON Lines file,
one row per payment, the columns checked before any row is."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
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
)


def read_payables(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, raw values) from a CSV (`,` `;` or tab) or JSON Lines file.

    Row numbers are the file's line numbers, so that a user can find the row in the export.
    """
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
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"} or text.lstrip().startswith("{"):
        yield from _read_json_lines(path, text)
    else:
        yield from _read_csv(path, text)


def _check_columns(path: Path, columns: Iterable[str], where: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in set(columns)]
    if missing:
        raise PayablesUnreadable(f"{path}: {where} lacks the column(s) {', '.join(missing)}")


def _read_csv(path: Path, text: str) -> Iterator[tuple[int, dict[str, str]]]:
    header_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
        _check_columns(path, header, "the header")
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise PayablesUnreadable(
                    f"{path}: line {reader.line_num} has {len(values)} fields, the header {len(header)}"
                )
            yield reader.line_num, dict(zip(header, values, strict=True))
    except csv.Error as exc:
        raise PayablesUnreadable(f"{path}: line {reader.line_num}: {exc}") from None


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

"""Reading ahead: a file's parse started on a thread, taken later by the reader that parses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from paydag.formats import columnar
from paydag.formats.settlement.layout import V2
from paydag.formats.settlement.rows import rows_parser
from paydag.formats.xml import FormatError
from tests.conftest import SETTLEMENT_V2


def rows_of(tables: dict) -> list[str | None]:
    return tables["rows"].column("PayexTransactionNo").to_pylist()


def test_a_read_ahead_is_taken_once_and_its_thread_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    path.write_bytes(SETTLEMENT_V2.read_bytes())
    parser = rows_parser(V2, ())
    columnar.read_ahead(parser, path)
    [(thread, _)] = columnar._AHEAD.values()
    assert thread.name == "read ahead report.xml"
    taken = columnar.parse_file(parser, path)
    assert not thread.is_alive() and columnar._AHEAD == {}
    assert rows_of(taken) == rows_of(columnar.parse(parser, str(path))) and len(rows_of(taken)) == 12


def test_a_file_changed_since_its_read_ahead_is_parsed_afresh(tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    data = SETTLEMENT_V2.read_bytes()
    path.write_bytes(data)
    parser = rows_parser(V2, ())
    columnar.read_ahead(parser, path)
    last = data.rindex(b"<Transaction ")
    path.write_bytes(data[:last] + data[data.index(b"\n", last) + 1 :])  # one row fewer
    assert len(rows_of(columnar.parse_file(parser, path))) == 11


def test_a_read_ahead_raises_where_it_is_taken_as_the_parse_would(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    data = SETTLEMENT_V2.read_bytes()
    row_end = data.index(b"/>", data.index(b"<Transaction "))
    path.write_bytes(data[:row_end] + b"></Wrong>" + data[row_end + 2 :])
    parser = rows_parser(V2, ())
    with pytest.raises(FormatError, match="not well-formed XML") as direct:
        columnar.parse(parser, str(path))
    columnar.read_ahead(parser, path)
    with pytest.raises(FormatError) as ahead:
        columnar.parse_file(parser, path)
    assert str(ahead.value) == str(direct.value) and columnar._AHEAD == {}


def test_another_parser_or_no_read_ahead_parses_here(tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    path.write_bytes(SETTLEMENT_V2.read_bytes())
    columnar.read_ahead(rows_parser(V2, ("Extra",)), path)
    here = columnar.parse_file(rows_parser(V2, ()), path)
    assert "Extra" not in here["rows"].schema.names and len(rows_of(here)) == 12
    assert "Extra" in columnar.parse_file(rows_parser(V2, ("Extra",)), path)["rows"].schema.names
    assert columnar._AHEAD == {}
    assert len(rows_of(columnar.parse_file(rows_parser(V2, ()), SETTLEMENT_V2))) == 12

"""A transaction list's rows read ahead: only a file whose head is one, in UTF-8; the package and the
read-ahead import without pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from paydag.formats import columnar
from paydag.formats.settlement import parse_settlement
from paydag.formats.settlement.rows import read_rows_ahead
from tests.conftest import SETTLEMENT_V1, SETTLEMENT_V2


def test_only_a_transaction_list_in_utf8_is_read_ahead(tmp_path: Path) -> None:
    latin = tmp_path / "latin.xml"
    latin.write_bytes(SETTLEMENT_V2.read_bytes().replace(b'encoding="utf-8"', b'encoding="ISO-8859-1"'))
    other = tmp_path / "camt.xml"
    other.write_bytes(b'<?xml version="1.0"?><Document xmlns="urn:x"><A/></Document>')
    doctype = tmp_path / "doctype.xml"
    doctype.write_bytes(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><SALES/>')
    for path in (latin, other, doctype, tmp_path / "missing.xml"):
        assert read_rows_ahead(path) is False, path.name
    assert columnar._AHEAD == {}


def test_a_report_read_ahead_parses_as_one_read_afresh(tmp_path: Path) -> None:
    for fixture in (SETTLEMENT_V1, SETTLEMENT_V2):
        path = tmp_path / fixture.name
        path.write_bytes(fixture.read_bytes())
        assert read_rows_ahead(path) is True
        with path.open("rb") as f:
            ahead = parse_settlement(f, path.name)
        assert columnar._AHEAD == {}, "taken by the reader"
        assert ahead.reader == "arrow"
        pd.testing.assert_frame_equal(ahead.rows, parse_settlement(path.read_bytes(), path.name).rows)


def test_the_package_and_the_read_ahead_import_without_pandas() -> None:
    code = """
import sys
import paydag.formats.settlement
from paydag.formats.settlement.rows import read_rows_ahead
import paydag.cli
assert not {"pandas", "great_expectations", "typer"} & set(sys.modules), \\
    sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", "great_expectations", "typer"))
from paydag.formats.settlement import SettlementReport, service_totals
assert "pandas" in sys.modules and SettlementReport.__name__ == "SettlementReport"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

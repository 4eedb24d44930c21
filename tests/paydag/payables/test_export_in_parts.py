"""A large export read and checked in two parts, the later one in a child process: the payments and
the report are the ones a single pass gives, whatever the rows hold and wherever the cut falls."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paydag.formats.bank_profiles import bank_profile
from paydag.payables import (
    PayablesUnreadable,
    open_payables,
    read_payables_table,
    validate_export,
    validate_table,
)
from paydag.payables import rules as payables_rules
from paydag.payables.export import NotARowStart, payables_table, row_start_near
from tests.conftest import MIXED_ROWS, TODAY, spy_on_children, write_csv

GENERIC = bank_profile("generic")


@pytest.fixture
def child_pids(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every file checked in two parts (not only large ones); the pid the later part was checked in."""
    monkeypatch.setattr(payables_rules, "_TWO_PROCESSES_FROM", 1)
    return spy_on_children(monkeypatch)


def _rows(count: int) -> list[dict[str, str]]:
    """`count` rows of every kind (transliterated names, quoted values), unique payment_ids."""
    return [
        MIXED_ROWS[n % len(MIXED_ROWS)] | {"payment_id": f"INV-{n:05d}", "creditor_address": f"Box {n}, Umeå"}
        for n in range(count)
    ]


def _one_pass(path: Path):
    return validate_table(read_payables_table(path), company="demo", profile=GENERIC, today=TODAY,
                          source=path.name)  # fmt: skip


def _in_parts(path: Path):
    return validate_export(open_payables(path), company="demo", profile=GENERIC, today=TODAY)


def test_two_parts_give_the_payments_and_report_of_one_pass(tmp_path: Path, child_pids: list[int]) -> None:
    rows = _rows(400)
    rows[10] |= {"amount": "12,5"}  # invalid in the first part
    rows[300] |= {"account": "5050-1056"}  # and in the second
    rows[350] |= {"payment_id": rows[20]["payment_id"]}  # a duplicate across the cut
    rows[390] |= {"creditor_name": "Kontor\tAB"}  # a control character
    path = write_csv(tmp_path / "payables.csv", rows)  # \r\n line ends, quoted values

    payments, report = _in_parts(path)
    one_payments, one_report = _one_pass(path)

    assert child_pids and child_pids[0] != os.getpid()  # the later part was checked elsewhere
    assert payments == one_payments
    assert (report.rows_read, report.errors, report.warnings) == (
        one_report.rows_read, one_report.errors, one_report.warnings
    )  # fmt: skip
    assert {e.row for e in report.errors} == {12, 22, 302, 352, 392}  # lines of the file, both parts
    assert report.warnings  # the transliterated names of both parts
    assert {w.row for w in report.warnings} & set(range(2, 200)) and {w.row for w in report.warnings} & set(
        range(250, 402)
    )


def test_a_bad_line_in_the_later_part_is_named_by_its_line_in_the_file(
    tmp_path: Path, child_pids: list[int]
) -> None:
    path = write_csv(tmp_path / "payables.csv", _rows(300))
    lines = path.read_bytes().split(b"\r\n")
    lines[250] += b",one too many"
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(PayablesUnreadable, match=r"payables.csv: line 251 has 18 fields, the header 17"):
        _in_parts(path)


def test_a_cut_misled_by_a_quote_inside_an_unquoted_value_reads_the_file_whole(
    tmp_path: Path, child_pids: list[int]
) -> None:
    rows = _rows(300)
    rows[1] |= {"message": "MARK"}  # becomes `Skärm 24" x2`, unquoted: a quote that opens nothing
    rows[206] |= {"message": "Rad ett\nrad två"}  # quoted, a line break inside: where the odd count cuts
    path = write_csv(tmp_path / "payables.csv", rows)
    path.write_bytes(path.read_bytes().replace(b"MARK", 'Skärm 24" x2'.encode()))
    export = open_payables(path)
    cut = row_start_near(export, int(len(export.data) * payables_rules._HERE_SHARE))
    assert cut is not None and export.data[:cut].endswith(b'"Rad ett\n')  # inside the quoted value
    with pytest.raises(NotARowStart, match=f"byte {cut} lies inside a quoted value"):
        payables_table(export, 0, cut)

    payments, report = _in_parts(path)
    one_payments, one_report = _one_pass(path)

    assert not child_pids  # no result taken from a child
    assert payments == one_payments and (report.errors, report.warnings) == (
        one_report.errors,
        one_report.warnings,
    )
    assert [p.message for p in payments if p.row == 3] == ['Skärm 24" x2']
    assert [e.row for e in report.errors] == [208]  # the line break in a message, on its row


def test_a_part_starts_where_a_row_does_and_the_parts_hold_every_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "payables.csv", _rows(50))
    export = open_payables(path)
    whole = payables_table(export)
    for near in range(0, len(export.data), 97):
        cut = row_start_near(export, near)
        if cut is None:
            continue
        first, later = payables_table(export, 0, cut), payables_table(export, cut)
        assert first.lines + later.lines == whole.lines
        assert all(first.columns[c] + later.columns[c] == whole.columns[c] for c in whole.columns)


def test_a_small_file_or_json_lines_is_checked_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []
    monkeypatch.setattr(payables_rules.bulk, "side_by_side", lambda *a: asked.append(1))
    _in_parts(write_csv(tmp_path / "payables.csv", _rows(20)))
    assert not asked
    assert row_start_near(open_payables(write_jsonl(tmp_path / "p.jsonl")), 0) is None


def write_jsonl(path: Path) -> Path:
    path.write_text('{"payment_id": "P1"}\n{"payment_id": "P2"}\n')
    return path

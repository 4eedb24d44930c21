"""The GX suites: our own reports and every genuine one pass; a file whose rows no longer add up fails
for that reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from paydag.formats.settlement import parse_settlement
from paydag.validation import suite_path, validate_settlement
from tests.conftest import SETTLEMENT_V1, SETTLEMENT_V2, spy_on_children

GENUINE_V1 = "swedbankpay_v1_optionB_R1005-0001.xml"
GENUINE_V2 = "swedbankpay_v2_optionA_R1234-0001.xml"


def failed(data: bytes) -> dict[tuple[str, str | None], object]:
    result = validate_settlement(parse_settlement(data, "tampered.xml"))
    assert not result.success
    return {(c.expectation, c.column): c for c in result.failed}


def passes_with_docs(report, tmp_path: Path) -> None:
    result = validate_settlement(report, docs_dir=tmp_path / "docs")
    assert result.success, [c.as_row() for c in result.failed]
    assert len(result.checks) >= 20
    assert result.docs is not None and report.accounting_no in "".join(
        p.read_text() for p in (tmp_path / "docs").rglob("*.html")
    )


@pytest.mark.parametrize("path", [SETTLEMENT_V1, SETTLEMENT_V2], ids=["v1", "v2"])
def test_our_reports_pass_and_docs_are_built(tmp_path: Path, path: Path) -> None:
    passes_with_docs(parse_settlement(path.read_bytes(), path.name), tmp_path)


@pytest.mark.parametrize("name", [GENUINE_V1, GENUINE_V2])
def test_genuine_files_pass_and_docs_are_built(shared_fixtures: Path, tmp_path: Path, name: str) -> None:
    passes_with_docs(parse_settlement((shared_fixtures / "settlement" / name).read_bytes(), name), tmp_path)


def test_a_deleted_row_fails_the_totals_it_breaks() -> None:
    data = SETTLEMENT_V2.read_bytes()
    # The first row: 1295.00 of "Consumer Credit Card EU", transaction 20000000101.
    tampered = re.sub(rb"\s*<Transaction [^>]*/>", b"", data, count=1)
    failures = failed(tampered)
    assert set(failures) == {
        ("expect_column_pair_values_to_be_equal", "service_debit_count / summary_debit_count"),
        ("expect_column_pair_values_to_be_equal", "service_amount_minor / summary_amount_minor"),
        ("expect_column_pair_values_to_be_equal", "currency_rows_sum_minor / currency_sum_minor"),
        ("expect_column_sum_to_be_between", "amount_minor"),
        ("expect_table_row_count_to_equal", None),
    }
    assert failures[("expect_column_sum_to_be_between", "amount_minor")].observed == str(1897800 - 129500)
    service = failures[("expect_column_pair_values_to_be_equal", "service_debit_count / summary_debit_count")]
    assert service.unexpected_count == 1  # the one row left of that service carries the wrong count
    assert failures[("expect_table_row_count_to_equal", None)].observed == "11"


def test_v1_deleted_row() -> None:
    data = SETTLEMENT_V1.read_bytes()
    failures = failed(re.sub(rb"\s*<TRAN [^>]*/>", b"", data, count=1))
    assert ("expect_column_sum_to_be_between", "amount_minor") in failures
    assert (
        "expect_column_pair_values_to_be_equal",
        "service_amount_minor / summary_amount_minor",
    ) in failures


def test_a_credit_without_its_reference_and_a_malformed_amount() -> None:
    data = SETTLEMENT_V2.read_bytes()
    data = data.replace(b'ReferencedTransaction="20000000106" ', b"")
    data = data.replace(b'Amount="1295.00"', b'Amount="1295.0"', 1)
    failures = failed(data)
    reference = failures[("expect_column_values_to_not_be_null", "referenced_transaction")]
    assert reference.first_unexpected == ("20000000109",)
    amount = failures[("expect_column_values_to_match_regex", "amount_text")]
    assert amount.first_unexpected == ("20000000101",)


@pytest.mark.parametrize("version", ["1", "2"])
def test_every_expectation_says_why_it_is_there(version: str) -> None:
    suite = json.loads(suite_path(version).read_text())
    assert suite["name"] == f"settlement_v{version}"
    assert all(e["meta"].get("reason") for e in suite["expectations"])
    parameters = {
        json.dumps(e["kwargs"]) for e in suite["expectations"] if "$PARAMETER" in json.dumps(e["kwargs"])
    }
    assert parameters  # header values enter as $PARAMETERs


def test_a_currency_that_is_no_iso_code_fails() -> None:
    data = SETTLEMENT_V2.read_bytes().replace(
        b'Currency="SEK" VATAmount="259.00"', b'Currency="SKR" VATAmount="259.00"', 1
    )
    failures = failed(data)
    assert failures[("expect_column_values_to_be_in_set", "currency")].first_unexpected == ("20000000101",)


def test_gx_is_handed_only_the_columns_its_suite_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    from paydag import validation

    handed: list[list[str]] = []
    real = validation.suite_frame
    monkeypatch.setattr(
        validation, "suite_frame", lambda *a: handed.append(list(real(*a).columns)) or real(*a)
    )
    report = parse_settlement(SETTLEMENT_V2.read_bytes())
    assert validate_settlement(report).success
    [columns] = handed
    assert {"transaction_no", "amount_minor", "referenced_transaction", "is_credit", "service_from"} <= set(
        columns
    )
    assert "description" in report.rows.columns and "description" not in columns  # not read, not handed over
    spec = json.loads(suite_path("2").read_text())
    assert set(columns) == validation.suite_columns(spec, "transaction_no") & set(report.rows.columns)


def test_gx_is_not_asked_to_fingerprint_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    from great_expectations.execution_engine import pandas_execution_engine

    def fingerprint(frame: object) -> str:
        raise AssertionError("GX hashed every value of the batch")

    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", fingerprint)
    monkeypatch.setattr(pandas_execution_engine, "HASH_THRESHOLD", 1e9)  # GX's own, whatever ran before
    result = validate_settlement(parse_settlement(SETTLEMENT_V2.read_bytes(), SETTLEMENT_V2.name))
    assert result.success, [c.as_row() for c in result.failed]


@pytest.fixture
def in_two_processes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every frame validated in two processes (not only large ones); the pid of each child half."""
    from paydag import validation

    monkeypatch.setattr(validation, "_TWO_PROCESSES_FROM", 1)
    return spy_on_children(monkeypatch)


@pytest.mark.parametrize("tampered", [False, True], ids=["passing", "failing"])
def test_a_report_validated_in_two_processes_gives_the_checks_of_one(tmp_path: Path, tampered: bool) -> None:
    """In a fresh interpreter, as `paydag validate` runs it (a test worker's own threads would keep
    it from forking): the suite in two processes, then in one, over the same report."""
    import pickle
    import subprocess
    import sys

    data = SETTLEMENT_V2.read_bytes()
    if tampered:  # a reference gone, an amount malformed, a currency no ISO code: failures in both halves
        data = data.replace(b'ReferencedTransaction="20000000106" ', b"")
        data = data.replace(b'Amount="1295.00"', b'Amount="1295.0"', 1)
        data = data.replace(b'Currency="SEK" VATAmount="259.00"', b'Currency="SKR" VATAmount="259.00"', 1)
    (tmp_path / "report.xml").write_bytes(data)
    code = f"""
import os, pickle, sys
from paydag import bulk, validation
from paydag.formats.settlement import parse_settlement
report = parse_settlement(open({str(tmp_path / "report.xml")!r}, "rb").read(), "report.xml")
pids, side_by_side = [], bulk.side_by_side
def spied(here, there):
    mine, (pid, theirs) = side_by_side(here, lambda: (os.getpid(), there()))
    pids.append(pid)
    return mine, theirs
bulk.side_by_side = spied
validation._TWO_PROCESSES_FROM = 1
halves = validation.validate_settlement(report)
validation._TWO_PROCESSES_FROM = 1 << 40
whole = validation.validate_settlement(report)
sys.stdout.buffer.write(pickle.dumps((os.getpid(), pids, halves, whole)))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    parent, children, halves, whole = pickle.loads(done.stdout)
    assert len(children) == 1 and children[0] != parent  # one split, the other half elsewhere
    assert halves == whole
    assert halves.success is not tampered
    assert len(halves.checks) == len(json.loads(suite_path("2").read_text())["expectations"])


def test_the_halves_hold_every_expectation_once_and_about_the_same_cost() -> None:
    from paydag import validation

    expectations = json.loads(suite_path("2").read_text())["expectations"]
    here, there = validation._halves(expectations)
    assert sorted(here + there) == list(range(len(expectations)))
    costs = [validation._COST.get(e["type"], 5) for e in expectations]
    assert (
        abs(sum(costs[i] for i in here) - sum(costs[i] for i in there))
        <= max(costs) + validation._ROW_CONDITION_COST
    )


def test_data_docs_are_built_from_one_run(in_two_processes: list[int], tmp_path: Path) -> None:
    passes_with_docs(parse_settlement(SETTLEMENT_V2.read_bytes(), SETTLEMENT_V2.name), tmp_path)
    assert not in_two_processes


def test_gx_is_imported_without_what_it_imports_for_expectations_no_suite_uses() -> None:
    """In a fresh interpreter: scipy.stats and altair stand deferred through GX's import and a
    validation, and are imported whole at their first use."""
    import subprocess
    import sys

    code = f"""
import sys
from paydag import validation
from paydag.formats.settlement import parse_settlement
validation.preload().join()
deferred = lambda: {{n for n in validation._DEFERRED if type(sys.modules[n]) is validation._Deferred}}
assert deferred() == {{"scipy.stats", "altair"}}, deferred()
report = parse_settlement(open({str(SETTLEMENT_V2)!r}, "rb").read(), "r.xml")
assert validation.validate_settlement(report).success
assert deferred() == {{"scipy.stats", "altair"}}, deferred()
from scipy import stats
assert abs(stats.entropy([0.5, 0.5], [0.9, 0.1]) - 0.5108256) < 1e-6
assert deferred() == {{"altair"}}, deferred()
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_gx_is_imported_without_its_optional_sql_and_aws_integrations_unless_already_there() -> None:
    """In fresh interpreters: GX imported without sqlalchemy and boto3 (its extras), which import as
    ever afterwards; where sqlalchemy is imported first (a Prefect worker), GX has it as well."""
    import subprocess
    import sys

    left_out = f"""
import sys
from paydag import validation
from paydag.formats.settlement import parse_settlement
validation.preload().join()
assert not {{"sqlalchemy", "boto3", "botocore"}} & set(sys.modules), sorted(sys.modules)
from great_expectations.compatibility import sqlalchemy as gx_sqlalchemy
assert not isinstance(gx_sqlalchemy.sqlalchemy, type(sys))
report = parse_settlement(open({str(SETTLEMENT_V2)!r}, "rb").read(), "r.xml")
assert validation.validate_settlement(report).success
import sqlalchemy, boto3
assert sqlalchemy.__version__ and boto3.__version__
"""
    kept = """
import sys
import sqlalchemy
from paydag import validation
validation.preload().join()
from great_expectations.compatibility import sqlalchemy as gx_sqlalchemy
assert gx_sqlalchemy.sqlalchemy is sqlalchemy
assert "boto3" not in sys.modules
"""
    for code in (left_out, kept):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]


def test_the_integrations_are_left_out_of_the_importing_thread_alone() -> None:
    """In a fresh interpreter: while GX imports on one thread, another thread that imports boto3 for
    itself (a task beside the validation) gets it; the importing thread does not."""
    import subprocess
    import sys

    code = """
import sys, threading
from paydag import validation
assert "boto3" not in sys.modules
seen = {}
def beside():
    import boto3
    seen["beside"] = boto3.__name__
with validation._optional_integrations_left_out():
    try:
        import botocore
    except ModuleNotFoundError as exc:
        seen["here"] = str(exc)
    thread = threading.Thread(target=beside)
    thread.start()
    thread.join()
assert seen == {"here": "botocore: left out of GX's import by paydag", "beside": "boto3"}, seen
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

"""Great Expectations over a parsed settlement report: the suite in `expectations/`, header values as
$PARAMETERs, results that a person can read.

GX is imported here lazily (it takes seconds and logs hundreds of lines unsilenced) and runs on an
ephemeral context: the suites live as JSON in the repository, not in a GX project directory.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import json
import logging
import re
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from paydag import bulk
from paydag.formats.settlement import SettlementReport
from paydag.settings import package_data

EXPECTATIONS_DIR = package_data("paydag.expectations")
FIRST_UNEXPECTED = 10


@dataclass(frozen=True)
class CheckResult:
    expectation: str
    column: str | None
    success: bool
    observed: str | None
    unexpected_count: int | None
    first_unexpected: tuple[str, ...]  # transaction numbers of the first failing rows
    reason: str | None  # the expectation's meta: why it is there

    def as_row(self) -> dict[str, object]:
        return {
            "expectation": self.expectation,
            "column": self.column,
            "success": self.success,
            "observed": self.observed,
            "unexpected": self.unexpected_count,
            "first unexpected transaction numbers": ", ".join(self.first_unexpected) or None,
        }


@dataclass(frozen=True)
class SuiteValidation:
    suite: str
    success: bool
    checks: tuple[CheckResult, ...]
    docs: Path | None = field(default=None)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.success)


def preload() -> threading.Thread:
    """Import GX on a thread of its own (seconds of pure-Python imports) while the caller parses the
    file: the parsing's heavy part runs outside the GIL. validate_frame's own import then finds GX
    imported, or waits for the thread to finish it."""
    thread = threading.Thread(target=_import_gx, name="import great_expectations", daemon=True)
    thread.start()
    return thread


def suite_path(version: str) -> Path:
    return EXPECTATIONS_DIR / f"settlement_v{version}.json"


def _import_gx() -> None:
    """GX imported quietly, and without what it imports for expectations paydag's suites never use
    or for integrations it never asks for."""
    _quiet()
    for name in _DEFERRED:
        if name not in sys.modules and importlib.util.find_spec(name) is not None:
            sys.modules[name] = _Deferred(name)
    with _optional_integrations_left_out():
        import great_expectations  # noqa: F401
    import tqdm

    _quiet()
    # GX's progress bars are off, yet tqdm would start its monitor thread for them: a thread that
    # lives on, and keeps the next validation in this process from being split (bulk.side_by_side).
    tqdm.tqdm.monitor_interval = 0


# Imported by GX's KL-divergence expectation module when GX is (scipy.stats for the divergence,
# altair for its chart): 1.2 s of the 3 s GX takes to import, for an expectation no suite here uses.
_DEFERRED = ("scipy.stats", "altair")


class _Deferred(types.ModuleType):
    """A module that is imported when one of its names is first used, not when it is imported: it
    stands in `sys.modules` until then, and from then on hands each use to the module itself."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__spec__ = importlib.util.find_spec(name)  # `import name` finds it whole, not loading

    def __getattr__(self, attribute: str) -> Any:  # only for what the stand-in itself lacks
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attribute)


# GX's optional integrations that it imports when they are installed (it runs without them; they are
# its extras): sqlalchemy for SQL data sources, boto3 for S3 stores. paydag validates pandas frames
# in an ephemeral context, so they would be 0.4 s of import for nothing; a process that already has
# them imported (a Prefect worker has sqlalchemy) keeps them for GX as well.
_LEFT_OUT = ("sqlalchemy", "boto3", "botocore")


class _LeftOut(importlib.abc.MetaPathFinder):
    """Packages found as if they were not installed, by one thread's imports only: the finder stands
    in `sys.meta_path` for every thread, and another one (a task beside this validation, say) may be
    importing boto3 for itself meanwhile."""

    def __init__(self, packages: set[str]) -> None:
        self.packages = packages
        self.thread = threading.get_ident()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] in self.packages and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"{name}: left out of GX's import by paydag", name=name)


@contextmanager
def _optional_integrations_left_out() -> Iterator[None]:
    """Within, in this thread: those of `_LEFT_OUT` not yet imported cannot be; in other threads and
    afterwards, they import as ever."""
    finder = _LeftOut({name for name in _LEFT_OUT if name not in sys.modules})
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def _quiet() -> None:
    # GX's base-config logger sets its own INFO level, so its parent's WARNING does not reach it.
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _frame(report: SettlementReport) -> Any:
    """The rows as GX reads them: nullable integers stay exact integers (never floats). Not copied:
    validate_frame hands GX a projection of the columns its suite reads."""
    return report.rows


def suite_frame(frame: Any, spec: dict[str, Any], id_column: str) -> Any:
    """The columns of `frame` the suite reads, in their order; what GX is given."""
    return frame[[c for c in frame.columns if c in suite_columns(spec, id_column)]]


def suite_columns(spec: dict[str, Any], id_column: str) -> set[str]:
    """Every column a suite's expectations read: their column arguments, the names a row condition
    mentions, and the column failing rows are named by."""
    names = {id_column}
    for expectation in spec.get("expectations", []):
        kwargs = expectation.get("kwargs", {})
        names.update(
            str(kwargs[k]) for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)
        )
        names.update(str(c) for c in kwargs.get("column_list", []) or [])
        condition = kwargs.get("row_condition")
        text = json.dumps(condition) if condition is not None else ""
        names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    return names


def _no_batch_fingerprint() -> None:
    """GX marks every pandas batch under 1 GB with a fingerprint of its contents (an md5 over
    pandas' hash of every value; `HASH_THRESHOLD` in its pandas engine, its only setting). On a
    million rows that is 0.4 s and 200 MiB at the peak, pandas turning each text column into Python
    strings first, for a marker no expectation and no part of paydag reads (a report is known by its
    raw file's sha256). Every batch is treated as if it were larger: the Data Docs' "Batch Markers"
    then list the load time alone."""
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0


def validate_settlement(report: SettlementReport, *, docs_dir: Path | None = None) -> SuiteValidation:
    """Run the report's suite; with `docs_dir`, also build its Data Docs there (static HTML)."""
    return validate_frame(
        _frame(report),
        suite_file=suite_path(report.version),
        name=report.accounting_no,
        parameters=report.parameters(),
        id_column="transaction_no",
        docs_dir=docs_dir,
    )


def validate_frame(
    frame: Any,
    *,
    suite_file: Path,
    name: str,
    parameters: dict[str, object],
    id_column: str,
    docs_dir: Path | None = None,
) -> SuiteValidation:
    """Run the suite in `suite_file` over `frame`; failing rows are named by `id_column`. A large frame
    without Data Docs is validated in two processes at once, half the expectations each."""
    _import_gx()  # once, before either half runs
    _no_batch_fingerprint()
    spec = json.loads(suite_file.read_text(encoding="utf-8"))
    # Only the columns the suite reads: GX fingerprints every column of the batch it is given (seconds
    # on a million rows), and a projection copies less than the whole frame.
    frame = suite_frame(frame, spec, id_column)
    run = partial(_run_suite, frame, name=name, parameters=parameters, id_column=id_column)
    expectations = spec.get("expectations", [])
    if docs_dir is not None or len(frame) < _TWO_PROCESSES_FROM or len(expectations) < 2:
        return run(spec, docs_dir)
    # Half the expectations in a child process on the other core, over the same frame (forked, not
    # copied): each expectation's result is its own, and the two halves' are the suite's, taken back
    # in its order. Data Docs need the whole run in one context: they are built in one process.
    here, there = _halves(expectations)
    mine, theirs = bulk.side_by_side(
        partial(run, spec | {"expectations": [expectations[i] for i in here]}, None),
        partial(run, spec | {"expectations": [expectations[i] for i in there]}, None),
    )
    by_place = dict(zip([*here, *there], [*mine.checks, *theirs.checks], strict=True))
    return SuiteValidation(
        suite=mine.suite,
        success=mine.success and theirs.success,
        checks=tuple(by_place[i] for i in sorted(by_place)),
    )


_TWO_PROCESSES_FROM = 100_000  # rows: below, a second process and GX context cost more than they save

# What an expectation costs on a million rows, in hundredths of a second (measured on the settlement
# suites), to deal the suite into two halves of about the same time; only the balance depends on it.
_COST = {
    "expect_column_to_exist": 0,
    "expect_column_values_to_not_be_null": 1,
    "expect_table_row_count_to_equal": 1,
    "expect_column_pair_values_to_be_equal": 4,
    "expect_column_pair_values_a_to_be_greater_than_b": 5,
    "expect_column_values_to_be_in_set": 8,
    "expect_column_values_to_match_regex": 11,
    "expect_column_sum_to_be_between": 15,
    "expect_column_values_to_be_unique": 29,
}
_ROW_CONDITION_COST = 7
_EACH_COST = 3  # what any expectation costs in a suite's run besides its own work, on a million rows


def _halves(expectations: list[dict[str, Any]]) -> tuple[list[int], list[int]]:
    """The expectations' places dealt into two halves, the costliest first to the lighter half."""

    def cost(place: int) -> int:
        expectation = expectations[place]
        conditional = (expectation.get("kwargs") or {}).get("row_condition") is not None
        own = _COST.get(expectation.get("type", ""), 5) + (_ROW_CONDITION_COST if conditional else 0)
        return _EACH_COST + own

    halves: tuple[list[int], list[int]] = ([], [])
    loads = [0, 0]
    for place in sorted(range(len(expectations)), key=cost, reverse=True):
        lighter = loads.index(min(loads))
        halves[lighter].append(place)
        loads[lighter] += cost(place)
    return sorted(halves[0]), sorted(halves[1])


def _run_suite(
    frame: Any,
    spec: dict[str, Any],
    docs_dir: Path | None,
    *,
    name: str,
    parameters: dict[str, object],
    id_column: str,
) -> SuiteValidation:
    """The expectations of `spec` over `frame` in a GX context of their own; their checks in the
    suite's order."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = context.suites.add(gx.ExpectationSuite(**spec))
    batch = (
        context.data_sources.add_pandas("paydag")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("rows")
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}-{suite.name}", data=batch, suite=suite)
    )
    actions = []
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        # GX 1.24 has only a filesystem store for Data Docs: build here, copy elsewhere afterwards.
        context.add_data_docs_site(
            site_name="paydag",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        actions.append(UpdateDataDocsAction(name="data-docs", site_names=["paydag"]))
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"{name}-check",
            validation_definitions=[definition],
            actions=actions,
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [id_column]},
        )
    )
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters)
    [result] = outcome.run_results.values()
    place = {e.id: n for n, e in enumerate(suite.expectations)}  # GX gives the results in an order of its own
    results = sorted(result.results, key=lambda r: place[r.expectation_config.id])
    checks = tuple(_check(r, id_column) for r in results)
    index = docs_dir / "index.html" if docs_dir is not None else None
    return SuiteValidation(
        suite=suite.name,
        success=bool(result.success),
        checks=checks,
        docs=index if index and index.exists() else None,
    )


def _check(r: Any, id_column: str) -> CheckResult:
    config = r.expectation_config
    kwargs = dict(config.kwargs)
    outcome = r.result or {}
    column = kwargs.get("column") or (
        f"{kwargs.get('column_A')} / {kwargs.get('column_B')}" if "column_A" in kwargs else None
    )
    observed = outcome.get("observed_value")
    indexes = outcome.get("unexpected_index_list") or []
    first = tuple(
        str(i.get(id_column)) if isinstance(i, dict) else str(i) for i in indexes[:FIRST_UNEXPECTED]
    )
    return CheckResult(
        expectation=config.type,
        column=column,
        success=bool(r.success),
        observed=None if observed is None else str(observed),
        unexpected_count=outcome.get("unexpected_count"),
        first_unexpected=first,
        reason=(config.meta or {}).get("reason"),
    )

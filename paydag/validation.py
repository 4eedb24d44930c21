"""Great Expectations over a parsed settlement report: the suite in `expectations/`, header values as
$PARAMETERs, results that a person can read.

GX is imported here lazily (it takes seconds and logs hundreds of lines unsilenced) and runs on an
ephemeral context: the suites live as JSON in the repository, not in a GX project directory.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    def load() -> None:
        _quiet()
        import great_expectations  # noqa: F401

        _quiet()

    thread = threading.Thread(target=load, name="import great_expectations", daemon=True)
    thread.start()
    return thread


def suite_path(version: str) -> Path:
    return EXPECTATIONS_DIR / f"settlement_v{version}.json"


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
    """Run the suite in `suite_file` over `frame`; failing rows are named by `id_column`."""
    _quiet()
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _quiet()
    _no_batch_fingerprint()
    spec = json.loads(suite_file.read_text(encoding="utf-8"))
    # Only the columns the suite reads: GX fingerprints every column of the batch it is given (seconds
    # on a million rows), and a projection copies less than the whole frame.
    frame = suite_frame(frame, spec, id_column)
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
    checks = tuple(_check(r, id_column) for r in result.results)
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

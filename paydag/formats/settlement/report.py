"""What either reader hands over (`ReportParts`) and how it becomes a `SettlementReport`: the rows as
one typed DataFrame, each row joined to its summary line.

Typing happens once, in Arrow, for both readers: amounts and VAT become int64 minor units (credits
negative) straight from their digits, never through a float; every identifier stays a string
(leading zeros kept); times are parsed from `YYYY-MM-DD hh:mm:ss` (local time, no zone, as written).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paydag.bulk import release_freed_memory
from paydag.formats.settlement.layout import Layout
from paydag.formats.xml import FormatError
from paydag.money import from_minor

# At most 16 digits before the point: 18 digits of minor units fit int64. A longer amount is left
# empty in amount_minor (never rounded, never wrapped), which the suite's not-null check on
# amount_minor reports with the row's transaction number.
_AMOUNT_DIGITS = r"^-?\d{1,16}\.\d{2}$"
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class ServiceSummary:
    currency: str
    service_type: str
    service: str
    debit_count: int
    credit_count: int
    amount_minor: int
    from_date: str
    to_date: str


@dataclass
class SettlementReport:
    version: str  # "1" or "2"
    accounting_no: str
    accounting_date: str | None
    contracting_party: str | None
    total_transactions: int | None  # v2 @TotalNoOfTransactions
    currency_sums_minor: dict[str, int]
    summary: list[ServiceSummary]
    rows: pd.DataFrame = field(repr=False)
    reader: str = "arrow"  # which reader read it: "arrow", or "lxml" where the fast one could not serve
    notes: tuple[str, ...] = ()  # what the reader had to do beyond reading, e.g. why lxml read it

    def parameters(self) -> dict[str, object]:
        """Header values for the expectation suites' $PARAMETERs."""
        from paydag.money import currency_codes

        params: dict[str, object] = {
            "row_count": self.total_transactions if self.total_transactions is not None else len(self.rows),
            "currency_sum_minor": sum(self.currency_sums_minor.values()),
            "iso4217": currency_codes(),
        }
        return params


def _minor(text: str, where: str) -> int:
    """`-4094.00` → -409400, exactly; the file promises two decimals."""
    sign = -1 if text.startswith("-") else 1
    whole, dot, fraction = text.lstrip("-").partition(".")
    if not (dot and whole.isdigit() and len(fraction) == 2 and fraction.isdigit()):
        raise FormatError(f"{where}: {text!r} is not an amount with two decimals")
    return sign * int(whole + fraction)


@dataclass
class ReportParts:
    """A transaction list as a reader found it: the root's attributes, the body currencies' sums, the
    summary, and the rows as text (one column per attribute, named as in the file)."""

    layout: Layout
    header: dict[str, str]
    currency_sums: dict[str, int]
    summary: list[ServiceSummary]
    rows: pa.Table
    body_currency: pa.Array  # per row, the code of the body currency it stands in ("" for none)
    body_currencies: list[str] = field(default_factory=list)  # every body currency's code, in file order


def assemble(parts: ReportParts, *, reader: str, notes: tuple[str, ...] = ()) -> SettlementReport:
    """The report, its rows typed and joined to the summary. Between the steps, what each freed is
    handed back: on a million rows the peak is a step's own intermediates, not all of theirs."""
    typed = _typed(parts)
    release_freed_memory()
    frame = _join_summary(typed, parts.summary, parts.currency_sums)
    del typed
    release_freed_memory()
    total = parts.header.get("TotalNoOfTransactions")
    return SettlementReport(
        version=parts.layout.version,
        accounting_no=parts.header["AccountingNo"],
        accounting_date=parts.header.get("AccountingDate"),
        contracting_party=parts.header.get("ContractingParty"),
        total_transactions=int(total) if total and total.isdigit() else None,
        currency_sums_minor=parts.currency_sums,
        summary=parts.summary,
        rows=frame,
        reader=reader,
        notes=notes,
    )


# Text columns stay the Arrow strings both readers make, 32-bit offsets (`string[pyarrow]`, an
# ArrowDtype): pandas' own StringDtype("pyarrow") would cast each to large_string, 8 bytes of offsets
# a value, 180 MiB and half a second more on a million rows of 23 text columns.
_TEXT = pa.string()
TEXT_DTYPE = pd.ArrowDtype(_TEXT)


def _typed(parts: ReportParts) -> pd.DataFrame:
    """Every column of the layout (empty where the file has none of it), then the file's own extra
    attributes; money as Int64 minor units, times as datetime64, the rest as strings."""
    layout, table = parts.layout, parts.rows
    rows = table.num_rows
    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    for attribute in table.column_names:
        columns[layout.column(attribute)] = table[attribute].cast(_TEXT)
    absent = pa.nulls(rows, _TEXT)  # one array for every column the file lacks: Arrow's are immutable
    ordered = {c: columns.pop(c, absent) for c in layout.column_order}
    ordered.update(columns)
    # v1 rows have no currency of their own: it is their CURRENCY parent's.
    ordered["currency"] = pc.coalesce(ordered["currency"], pc.if_else(
        pc.equal(parts.body_currency, ""), None, parts.body_currency.cast(_TEXT)
    ))  # fmt: skip
    # Four columns typed at once: Arrow's kernels leave the GIL, so two threads use both cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        typing = {minor: pool.submit(_minor_units, ordered[text])
                  for text, minor in (("amount_text", "amount_minor"), ("vat_text", "vat_minor"))}  # fmt: skip
        typing |= {
            column: pool.submit(_timestamps, ordered[column]) for column in ("date_created", "date_modified")
        }
        ordered.update({column: future.result() for column, future in typing.items()})
    frame = pa.table(ordered).to_pandas(types_mapper=_PANDAS_TYPES.get, self_destruct=True)
    frame["is_credit"] = frame["amount_minor"] < 0
    return frame


def _minor_units(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Amount texts as exact integers of minor units, never through a float; null where malformed."""
    well_formed = pc.match_substring_regex(values, _AMOUNT_DIGITS)
    return pc.cast(pc.if_else(well_formed, pc.replace_substring(values, ".", ""), None), pa.int64())


def _timestamps(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(pc.strptime(values, format=_TIME_FORMAT, unit="s", error_is_null=True), pa.timestamp("us"))


_PANDAS_TYPES = {_TEXT: TEXT_DTYPE, pa.int64(): pd.Int64Dtype()}


def _join_summary(
    frame: pd.DataFrame, summary: list[ServiceSummary], currency_sums: dict[str, int]
) -> pd.DataFrame:
    """Each row with its summary line (by currency and service name) and its service's actual totals,
    so that the expectations can compare them row by row. Computed per group code and taken into the
    frame: the rows themselves are not copied (a merge would copy every column)."""
    lines: dict[tuple[str, str], ServiceSummary] = {}
    for line in summary:
        if (line.currency, line.service) in lines:
            raise FormatError(f"the summary lists {line.currency} {line.service!r} twice")
        lines[(line.currency, line.service)] = line
    service = frame.groupby(["currency", "service"], dropna=False, sort=False).ngroup().to_numpy()
    currency = frame.groupby("currency", dropna=False, sort=False).ngroup().to_numpy()
    first = pd.Series(service).drop_duplicates().index.to_numpy()  # the first row of each service
    keys = frame[["currency", "service"]].iloc[first].itertuples(index=False)
    found = [lines.get((c, s)) if pd.notna(c) and pd.notna(s) else None for c, s in keys]
    order = np.empty(len(found), dtype=np.int64)
    order[service[first]] = np.arange(len(found))
    at = order[service]  # each row's position in `found`

    def per_line(value, dtype: str | pd.api.extensions.ExtensionDtype) -> pd.Series:
        values = pd.array([None if line is None else value(line) for line in found], dtype=dtype)
        return pd.Series(values.take(at), index=frame.index)

    frame["service_type"] = per_line(lambda line: line.service_type, TEXT_DTYPE)
    frame["summary_debit_count"] = per_line(lambda line: line.debit_count, "Int64")
    frame["summary_credit_count"] = per_line(lambda line: line.credit_count, "Int64")
    frame["summary_amount_minor"] = per_line(lambda line: line.amount_minor, "Int64")
    frame["service_from"] = per_line(lambda line: _bound(line.from_date, end=False), "datetime64[us]")
    frame["service_to"] = per_line(lambda line: _bound(line.to_date, end=True), "datetime64[us]")
    # Per service and per currency, by group codes: cythonised sums, no Python per group.
    credit = frame["is_credit"].fillna(False).to_numpy(dtype=bool)
    frame["service_debit_count"] = _per_group(service, ~credit, frame.index)
    frame["service_credit_count"] = _per_group(service, credit, frame.index)
    frame["service_amount_minor"] = _per_group(service, frame["amount_minor"], frame.index)
    frame["currency_rows_sum_minor"] = _per_group(currency, frame["amount_minor"], frame.index)
    # Each row's body currency's sum, looked up in Arrow (Series.map makes a Python object a row).
    at = pc.index_in(pa.array(frame["currency"]), value_set=pa.array(list(currency_sums), _TEXT))
    sums = pc.take(pa.array(list(currency_sums.values()), pa.int64()), at)
    frame["currency_sum_minor"] = pd.Series(
        sums.to_pandas(types_mapper=_PANDAS_TYPES.get).array, index=frame.index
    )
    return frame


def _per_group(groups: np.ndarray, values: np.ndarray | pd.Series, index: pd.Index) -> pd.Series:
    """Each row's group total of `values` (booleans count; missing amounts count as 0), as Int64."""
    totals = (
        pd.Series(
            np.asarray(values)
            if isinstance(values, np.ndarray)
            else values.to_numpy(dtype="int64", na_value=0)
        )
        .groupby(groups)
        .sum()
    )
    return pd.Series(totals.to_numpy(dtype="int64")[groups], index=index, dtype="Int64")


def _bound(text: str, *, end: bool) -> pd.Timestamp | None:
    """v2 summaries give dates (the whole day counts); v1 gives exact times."""
    if not text:
        return None
    if len(text) == 10:
        return pd.Timestamp(text) + (
            pd.Timedelta(days=1) - pd.Timedelta(seconds=1) if end else pd.Timedelta(0)
        )
    return pd.Timestamp(text)


def service_totals(rows: pd.DataFrame) -> list[dict[str, object]]:
    """Rows and amount per currency and service, the amount as a decimal string in major units."""
    grouped = rows.groupby(["currency", "service"], dropna=False)["amount_minor"].agg(["count", "sum"])
    return [
        {"currency": currency, "service": service, "rows": int(r["count"]),
         "sum": f"{from_minor(int(r['sum']), currency):f}"}
        for (currency, service), r in grouped.iterrows()
    ]  # fmt: skip

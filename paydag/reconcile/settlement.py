"""Settlement rows against captured transactions, on pandas: whole tables are joined at once; no
Python loop runs over rows.

The transaction number is the key (exact), the payeeReference (= OrderId) the second key for what
the first left over, paired by amount. The amount bridge is exact: the file's signed minor units equal
the API's minor units with the sign of its type (Capture/Sale +, Reversal −).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from paydag.register import ExceptionsUpdate, Register
    from paydag.storage import RawStore


CAPTURES_READER = "reconcile-settlement"  # the raw store's `source` of a captures export it kept


class SettlementState(StrEnum):
    MATCHED = "matched"
    REVERSAL_LINKED = "reversal linked"  # matched, and the capture it reverses is known
    AMOUNT_MISMATCH = "amount mismatch"
    MISSING_IN_SETTLEMENT = "missing in settlement"
    UNEXPECTED_IN_SETTLEMENT = "unexpected in settlement"
    DUPLICATE = "duplicate"


class CapturesUnreadable(ValueError):
    """A captures export could not be read; the message says which column or file."""


_CAPTURE_ALIASES = {
    "number": "transaction_no",
    "transaction_number": "transaction_no",
    "transaction.number": "transaction_no",
    "transactionno": "transaction_no",
    "payeereference": "payee_reference",
    "payee_reference": "payee_reference",
    "type": "type",
    "amount": "amount_minor",
    "vatamount": "vat_minor",
    "vat_amount": "vat_minor",
    "created": "created",
}


def read_captures(path: Path) -> pd.DataFrame:
    """A captures export in the shape of the payments API (CSV or Parquet): number, payeeReference,
    type, amount and vatAmount in minor units, created. Numbers stay text, whatever the file made of them."""
    try:
        if path.suffix.lower() == ".parquet":
            raw = pd.read_parquet(path)
            raw = raw.astype(
                {
                    c: "string"
                    for c in raw.columns
                    if c.lower() in ("number", "transaction_no", "payeereference", "payee_reference")
                }
            )
        else:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise CapturesUnreadable(f"{path}: cannot be read: {exc}") from None
    renamed = raw.rename(
        columns={c: _CAPTURE_ALIASES.get(c.strip().lower().replace(" ", ""), c) for c in raw.columns}
    )
    missing = [c for c in ("transaction_no", "type", "amount_minor") if c not in renamed]
    if missing:
        raise CapturesUnreadable(f"{path}: the columns {', '.join(missing)} are missing")
    return normalise_captures(renamed, str(path))


def normalise_captures(frame: pd.DataFrame, source: str = "captures") -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "transaction_no": frame["transaction_no"].astype("string").str.strip(),
            "payee_reference": (frame["payee_reference"] if "payee_reference" in frame else pd.Series(pd.NA, index=frame.index)).astype("string"),
            "type": frame["type"].astype("string").str.strip().str.capitalize(),
        }
    )  # fmt: skip
    # Minor units are whole numbers: read as text and checked as digits, never through a float.
    text = frame["amount_minor"].astype("string").str.strip()
    digits = text.str.fullmatch(r"[0-9]+").fillna(False).astype(bool)
    if not digits.all():
        bad = int(np.flatnonzero(~digits.to_numpy())[0])
        raise CapturesUnreadable(
            f"{source}: row {bad + 1}: amount {text.iloc[bad]!r} is not positive minor units"
        )
    out["amount_minor"] = text.astype("Int64").astype("int64")
    unknown = ~out["type"].isin(["Capture", "Sale", "Reversal"])
    if unknown.any():
        raise CapturesUnreadable(
            f"{source}: row {int(np.flatnonzero(unknown)[0]) + 1}: type {out['type'][unknown].iloc[0]!r} is not Capture, Sale or Reversal"
        )
    out["signed_minor"] = np.where(out["type"] == "Reversal", -out["amount_minor"], out["amount_minor"])
    out["created"] = (
        pd.to_datetime(frame["created"], errors="coerce", utc=True, format="ISO8601")
        if "created" in frame
        else pd.NaT
    )
    return out


def reconcile_settlement(
    settlement: pd.DataFrame,
    captures: pd.DataFrame,
    *,
    as_of: date,
    earlier_settlement: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per settlement row or capture, with its state; see SettlementState."""
    s, c = _sides(settlement, captures)
    s_keys, c_keys = _number_keys(s["transaction_no"], c["transaction_no"])
    s, c = s.assign(_key=s_keys), c.assign(_key=c_keys)
    duplicates, s, c = _split_duplicates(s, c)
    # 1. The transaction number, exactly (as int64 where every number round-trips: hashing integers
    # is several times faster than hashing strings). An inner join and two anti-joins: the million
    # matched rows are taken once, and only the few left over are filtered.
    both = s.merge(c.drop(columns="transaction_no"), on="_key", how="inner")
    left = s.loc[~_isin(s["_key"], c["_key"]).to_numpy()].drop(columns="_key")
    right = c.loc[~_isin(c["_key"], s["_key"]).to_numpy()].drop(columns="_key")
    both = both.drop(columns="_key").assign(matched_by="transaction number")
    # 2. What is left over, by payeeReference = OrderId.
    second, only_settlement, only_captures = _by_reference(left, right)

    for matched in (both, second):
        matched["difference_minor"] = matched["settled_minor"] - matched["captured_minor"]
        matched["state"] = np.where(
            matched["difference_minor"] == 0,
            SettlementState.MATCHED.value,
            SettlementState.AMOUNT_MISMATCH.value,
        )
    only_settlement["state"] = SettlementState.UNEXPECTED_IN_SETTLEMENT.value
    only_captures["state"] = SettlementState.MISSING_IN_SETTLEMENT.value
    # Age in calendar days: the day of the capture to the day of the run.
    created_day = only_captures["created"].dt.tz_convert(None).dt.normalize()
    only_captures["age_days"] = (pd.Timestamp(as_of) - created_day).dt.days

    report = pd.concat([both, second, only_settlement, only_captures, duplicates], ignore_index=True)
    # 3. Reversals: linked to the capture they reverse, in this report, an earlier one, or the export.
    pools = [s_keys, c_keys]
    if earlier_settlement is not None:
        pools.append(earlier_settlement["transaction_no"])
    return _shaped(_link_reversals(report, pools))


def _sides(settlement: pd.DataFrame, captures: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The columns each side brings. Nullable integers throughout: an outer join leaves gaps, and a
    gap must not turn money into floats."""
    keep = [
        "transaction_no",
        "order_id",
        "amount_minor",
        "currency",
        "service",
        "accounting_no",
        "referenced_transaction",
    ]
    s = settlement[keep].rename(columns={"amount_minor": "settled_minor"})
    s = s.assign(settled_minor=s["settled_minor"].astype("Int64"))
    c = captures[["transaction_no", "payee_reference", "type", "signed_minor", "created"]].rename(
        columns={"signed_minor": "captured_minor"}
    )
    return s, c.assign(captured_minor=c["captured_minor"].astype("Int64"))


def _split_duplicates(s: pd.DataFrame, c: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A number twice on either side makes every row of that number ambiguous, on both sides: those
    rows as duplicates, and both sides without them (their `_key` dropped from the duplicates)."""
    twice = pd.concat([s["_key"][s["_key"].duplicated()], c["_key"][c["_key"].duplicated()]])
    dup_s = _isin(s["_key"], twice) if len(twice) else pd.Series(False, index=s.index)
    dup_c = _isin(c["_key"], twice) if len(twice) else pd.Series(False, index=c.index)
    duplicates = pd.concat(
        [s[dup_s].assign(state=SettlementState.DUPLICATE.value, side="settlement"),
         c[dup_c].assign(state=SettlementState.DUPLICATE.value, side="captures")],
        ignore_index=True,
    ).drop(columns="_key")  # fmt: skip
    return duplicates, s[~dup_s], c[~dup_c]


def _number_keys(*numbers: pd.Series) -> list[pd.Series]:
    """The transaction numbers as join keys: int64 where every number on every side round-trips
    (digits without a leading zero, at most 18 of them), else the strings themselves."""
    keys = [_as_int64(n) for n in numbers]
    if all(k is not None for k in keys):
        return keys  # type: ignore[return-value]
    return [n.astype("string") for n in numbers]


def _as_int64(numbers: pd.Series) -> pd.Series | None:
    """`numbers` as int64 if every one is digits that round-trip, else None. Arrow's cast reads the
    digits; the count of digits each integer has must be the text's length (no sign, no zeros in front)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(numbers.astype("string"))
    if text.null_count or not len(text):
        return None
    try:
        ints = pc.cast(text, pa.int64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if ints.min() < 1 or ints.max() >= _POWERS_OF_TEN[-1]:
        return None
    digits = np.searchsorted(_POWERS_OF_TEN, ints, side="right")
    if not np.array_equal(digits, pc.binary_length(text).to_numpy()):
        return None
    return pd.Series(ints, index=numbers.index)


_POWERS_OF_TEN = 10 ** np.arange(19, dtype=np.int64)  # 1 … 10**18: numbers of at most 18 digits


def _by_reference(left: pd.DataFrame, right: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The rows the number left over, paired one to one by payeeReference = OrderId and amount: the
    pairs, the settlement rows left, the captures left. Rows without a reference take no part (pandas
    would pair missing keys with each other)."""
    left_ref, left_none = left[left["order_id"].notna()], left[left["order_id"].isna()]
    right_ref, right_none = right[right["payee_reference"].notna()], right[right["payee_reference"].isna()]
    left_ref = left_ref.assign(_n=left_ref.groupby(["order_id", "settled_minor"]).cumcount())
    right_ref = right_ref.assign(_n=right_ref.groupby(["payee_reference", "captured_minor"]).cumcount())
    by_reference = left_ref.merge(
        right_ref.rename(columns={"transaction_no": "capture_no"}),
        left_on=["order_id", "settled_minor", "_n"], right_on=["payee_reference", "captured_minor", "_n"],
        how="outer", indicator=True,
    )  # fmt: skip
    pairs = by_reference[by_reference["_merge"] == "both"].copy()
    pairs["matched_by"] = "payee reference"
    only_settlement = pd.concat(
        [by_reference[by_reference["_merge"] == "left_only"], left_none], ignore_index=True
    )
    only_captures = by_reference[by_reference["_merge"] == "right_only"].copy()
    only_captures["transaction_no"] = only_captures["capture_no"]
    return pairs, only_settlement, pd.concat([only_captures, right_none], ignore_index=True)


def _link_reversals(report: pd.DataFrame, pools: list[pd.Series]) -> pd.DataFrame:
    """A reversal whose referenced transaction is in one of `pools` names it; a matched one is
    REVERSAL_LINKED."""
    is_reversal = (report["settled_minor"] < 0).fillna(False) | (report["type"] == "Reversal").fillna(False)
    referenced = report["referenced_transaction"].astype("string")
    linked = pd.Series(False, index=report.index)
    linked[is_reversal] = _isin(referenced[is_reversal], *pools)
    report["linked_capture"] = referenced.where(linked)
    report.loc[linked & (report["state"] == SettlementState.MATCHED.value), "state"] = (
        SettlementState.REVERSAL_LINKED.value
    )
    return report


REPORT_COLUMNS = ["transaction_no", "state", "matched_by", "accounting_no", "currency", "service", "order_id",
                  "payee_reference", "type", "settled_minor", "captured_minor", "difference_minor", "age_days",
                  "linked_capture", "side"]  # fmt: skip


def _shaped(report: pd.DataFrame) -> pd.DataFrame:
    """The report's columns in their order, money and ages as Int64."""
    for column in REPORT_COLUMNS:
        if column not in report:
            report[column] = pd.NA
    report = report[REPORT_COLUMNS].reset_index(drop=True)
    return report.astype(
        {column: "Int64" for column in ["settled_minor", "captured_minor", "difference_minor", "age_days"]}
    )


def _isin(values: pd.Series, *pools: pd.Series) -> pd.Series:
    """Membership in any of `pools`. An int64 pool (numbers that round-trip, see _number_keys) is
    searched with the values that are such numbers; a pool of strings through Arrow's hash set
    (pandas' `isin` on Arrow-backed strings is orders of magnitude slower)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = np.zeros(len(values), dtype=bool)
    if not len(values):
        return pd.Series(found, index=values.index)
    numbers = strings = None
    for pool in (p.dropna() for p in pools):
        if not len(pool):
            continue
        if pool.dtype == np.int64:
            if numbers is None:
                numbers = values if values.dtype == np.int64 else _round_tripping(values)
            found |= numbers.isin(pool.to_numpy()).to_numpy()
        else:
            if strings is None:
                strings = pa.array(values.astype("string"))
            hits = pc.fill_null(pc.is_in(strings, value_set=pa.array(pool.astype("string"))), False)
            found |= hits.to_numpy(zero_copy_only=False)
    return pd.Series(found, index=values.index)


def _round_tripping(values: pd.Series) -> pd.Series:
    """Each value as int64 where it is a number that round-trips, else -1 (which no key is)."""
    as_int = _as_int64(values.fillna("0"))
    if as_int is not None:
        return as_int
    return pd.Series([_one_int64(v) for v in values], index=values.index, dtype="int64")


def _one_int64(value: object) -> int:
    text = str(value) if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() and text[0] != "0" and len(text) <= 18 else -1


def state_counts(report: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in report["state"].value_counts().sort_index().items()}


OPEN_SETTLEMENT_STATES = {
    SettlementState.AMOUNT_MISMATCH.value,
    SettlementState.MISSING_IN_SETTLEMENT.value,
    SettlementState.UNEXPECTED_IN_SETTLEMENT.value,
    SettlementState.DUPLICATE.value,
}


def settlement_exceptions(report: pd.DataFrame) -> tuple[dict[str, tuple[str, dict[str, object]]], set[str]]:
    """What a person has to look at (key → state and detail), and the keys that are settled now."""
    open_rows = report[report["state"].isin(OPEN_SETTLEMENT_STATES)]
    details = open_rows[
        [
            "transaction_no",
            "state",
            "accounting_no",
            "settled_minor",
            "captured_minor",
            "difference_minor",
            "age_days",
        ]
    ]
    items: dict[str, tuple[str, dict[str, object]]] = {}
    for row in details.astype(object).where(details.notna(), None).to_dict("records"):
        key = str(row.pop("transaction_no"))
        items.setdefault(key, (str(row.pop("state")), row))
    matched = set(
        report.loc[~report["state"].isin(OPEN_SETTLEMENT_STATES), "transaction_no"].dropna().astype(str)
    )
    return items, matched


def carry_exceptions_forward(
    register: Register, report: pd.DataFrame, label: str, now: datetime
) -> ExceptionsUpdate:
    """Open, keep or resolve the register's settlement exceptions from a reconciliation report
    (idempotent: run again, the same outcome)."""
    items, matched = settlement_exceptions(report)
    return register.update_exceptions(
        "settlement", open_items=items, matched_keys=matched, resolution=f"matched in {label}", now=now
    )


def carry_exceptions_forward_recorded(
    register: Register,
    raw_store: RawStore,
    report: pd.DataFrame,
    *,
    label: str,
    now: datetime,
    captures_key: str,
    as_of: date,
    reports: Iterable[str],
) -> ExceptionsUpdate:
    """`carry_exceptions_forward`, then the run's record in the raw store (`captures_key`: the kept
    export it read), written once the exceptions are committed, so that a replay reconciles where
    this run did."""
    from paydag.storage.journal import ReconciliationRun, record_run

    update = carry_exceptions_forward(register, report, label, now)
    run = ReconciliationRun(CAPTURES_READER, (captures_key,), now, label, as_of=as_of, reports=tuple(reports))
    record_run(raw_store, "captures", run)
    return update


def report_level(
    settlement: pd.DataFrame, *, fees_minor: int | None = None, vat_minor: int | None = None
) -> list[dict[str, object]]:
    """Per report and currency: rows = currency @Sum = Σ summary per service, and, given the balance
    report's fee and VAT totals, the payout to expect under option A (Swedbank Pay pays out the net)."""
    out = []
    for (accounting_no, currency), rows in settlement.groupby(["accounting_no", "currency"], dropna=False):
        rows_sum = int(rows["amount_minor"].sum())
        header = (
            int(rows["currency_sum_minor"].iloc[0])
            if "currency_sum_minor" in rows and rows["currency_sum_minor"].notna().any()
            else None
        )
        per_service = (
            rows.drop_duplicates("service")["summary_amount_minor"]
            if "summary_amount_minor" in rows
            else None
        )
        summary = int(per_service.sum()) if per_service is not None and per_service.notna().all() else None
        entry: dict[str, object] = {
            "accounting_no": accounting_no, "currency": currency, "rows": len(rows), "rows_sum_minor": rows_sum,
            "currency_sum_minor": header, "summary_sum_minor": summary,
            "consistent": rows_sum == header == summary,
        }  # fmt: skip
        if fees_minor is not None and vat_minor is not None:
            entry["expected_payout_minor"] = rows_sum - fees_minor - vat_minor
        out.append(entry)
    return out


def curated_settlement(
    curated_dir: Path, accounting_nos: list[str] | None
) -> tuple[pd.DataFrame, pd.DataFrame | None, list[str]]:
    """The curated reports to reconcile (these AccountingNos, or all), the transaction numbers of the
    other curated reports (where a reversal's capture may have been settled), and the names used."""
    curated = sorted((curated_dir / "settlement").glob("*.parquet"))
    wanted = [p for p in curated if accounting_nos is None or p.stem in accounting_nos]
    if not wanted:
        raise FileNotFoundError(f"no curated settlement report {accounting_nos or ''} under {curated_dir}")
    others = [p for p in curated if p not in wanted]
    earlier = (
        pd.concat([pd.read_parquet(p, columns=["transaction_no"]) for p in others], ignore_index=True)
        if others
        else None
    )
    return (
        pd.concat([pd.read_parquet(p) for p in wanted], ignore_index=True),
        earlier,
        [p.stem for p in wanted],
    )


def write_report(report: pd.DataFrame, out_dir: Path, day: date) -> list[Path]:
    """`reconciliation-{day}.parquet` and `.csv` in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"reconciliation-{day.isoformat()}"
    paths = [stem.with_suffix(".parquet"), stem.with_suffix(".csv")]
    report.to_parquet(paths[0], index=False)
    report.to_csv(paths[1], index=False)
    return paths


def settlement_rows(paths: Iterable[Path]) -> pd.DataFrame:
    """The rows of settlement reports given as the XML transaction list or its curated Parquet,
    each with its AccountingNo."""
    from paydag.formats.settlement import parse_settlement

    tables = []
    for path in paths:
        if path.suffix.lower() == ".parquet":
            tables.append(pd.read_parquet(path))
        else:
            report = parse_settlement(path.read_bytes(), path.name)
            tables.append(report.rows.assign(accounting_no=report.accounting_no))
    return pd.concat(tables, ignore_index=True)

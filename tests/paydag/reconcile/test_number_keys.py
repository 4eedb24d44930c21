"""Transaction numbers are joined as integers only where every one round-trips; the states are the
same either way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from paydag.reconcile import reconcile_settlement
from paydag.reconcile.settlement import _number_keys
from tests.conftest import SETTLEMENT_V1
from tests.paydag.reconcile.test_reconcile import AS_OF, captures, export_from, settlement


@pytest.mark.parametrize(
    ("numbers", "as_integers"),
    [
        (["610000201", "20000000101", "999999999999999999"], True),
        (["610000201", "0610000201"], False),  # a leading zero: "0610000201" is not 610000201
        (["610000201", "+610000201"], False),
        (["610000201", "1234567890123456789"], False),  # 19 digits
        (["610000201", "61000020A"], False),
        (["610000201", None], False),
        (["0"], False),
    ],
)
def test_numbers_become_integers_only_where_every_one_round_trips(numbers: list, as_integers: bool) -> None:
    [keys] = _number_keys(pd.Series(numbers, dtype="string"))
    assert (str(keys.dtype) == "int64") is as_integers
    if as_integers:
        assert [str(k) for k in keys] == numbers


def test_a_leading_zero_on_one_side_keeps_every_number_text() -> None:
    left, right = _number_keys(pd.Series(["610000201"]), pd.Series(["0610000201"]))
    assert str(left.dtype).startswith("string") and str(right.dtype).startswith("string")


def scenario(prefix: str, tmp_path: Path) -> pd.DataFrame:
    """Every state, with `prefix` before every number on both sides ("0" forces the text path)."""
    rows = settlement(SETTLEMENT_V1)
    rows["transaction_no"] = prefix + rows["transaction_no"]
    rows["referenced_transaction"] = prefix + rows["referenced_transaction"]
    export = export_from(rows)
    export.loc[0, "amount"] += 100
    export = export.drop(index=1)
    export.loc[2, "number"] = prefix + "999999999"
    export = pd.concat([export, export.loc[[5]]], ignore_index=True)
    report = reconcile_settlement(rows, captures(export, tmp_path), as_of=AS_OF)
    report["transaction_no"] = report["transaction_no"].str.removeprefix(prefix)
    report["linked_capture"] = report["linked_capture"].str.removeprefix(prefix)
    return report.sort_values(["transaction_no", "state", "side"], ignore_index=True)


def test_the_text_path_and_the_integer_path_give_the_same_report(tmp_path: Path) -> None:
    numbers = settlement(SETTLEMENT_V1)["transaction_no"]
    assert str(_number_keys(numbers)[0].dtype) == "int64"  # the scenarios really take the two paths
    assert str(_number_keys("0" + numbers)[0].dtype).startswith("string")
    as_integers, as_text = scenario("", tmp_path), scenario("0", tmp_path)
    assert set(as_integers["state"]) == {"matched", "reversal linked", "amount mismatch",
                                         "unexpected in settlement", "duplicate"}  # fmt: skip
    pd.testing.assert_frame_equal(as_integers, as_text)

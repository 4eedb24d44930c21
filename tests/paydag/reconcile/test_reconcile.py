"""Reconciliation: settlement reports against captures exports built from them, and altered to make
every state."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from paydag.formats.settlement import parse_settlement
from paydag.reconcile import (
    CapturesUnreadable,
    IncomingState,
    SettlementState,
    normalise_captures,
    read_captures,
    reconcile_incoming,
    reconcile_settlement,
    state_counts,
)
from tests.conftest import SETTLEMENT_V1, SETTLEMENT_V2

AS_OF = date(2026, 11, 21)
GENUINE = ["swedbankpay_v1_optionB_R1005-0001.xml", "swedbankpay_v2_optionA_R1234-0001.xml"]


def settlement(path: Path) -> pd.DataFrame:
    report = parse_settlement(path.read_bytes(), path.name)
    return report.rows.assign(accounting_no=report.accounting_no)


def all_match(rows: pd.DataFrame, tmp_path: Path) -> None:
    report = reconcile_settlement(rows, captures(export_from(rows), tmp_path), as_of=AS_OF)
    counts = state_counts(report)
    assert sum(counts.values()) == len(rows)
    assert set(counts) <= {SettlementState.MATCHED.value, SettlementState.REVERSAL_LINKED.value}
    assert (report["difference_minor"] == 0).all()
    money = report[["settled_minor", "captured_minor", "difference_minor"]]
    assert set(map(str, money.dtypes)) == {"Int64"}  # never floats, not even around gaps


def export_from(rows: pd.DataFrame) -> pd.DataFrame:
    """The payments API's view of the same transactions: positive minor units, the type gives the sign."""
    return pd.DataFrame(
        {
            "number": rows["transaction_no"].astype(str),
            "payeeReference": rows["order_id"],
            "type": ["Reversal" if a < 0 else "Capture" for a in rows["amount_minor"]],
            "amount": rows["amount_minor"].abs().astype("int64"),
            "created": rows["date_created"].astype(str),
        }
    )


def captures(frame: pd.DataFrame, tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "captures.csv"
    frame.to_csv(path, index=False)
    return read_captures(path)


@pytest.mark.parametrize("path", [SETTLEMENT_V1, SETTLEMENT_V2], ids=["v1", "v2"])
def test_our_reports_against_their_own_captures_all_match(tmp_path: Path, path: Path) -> None:
    all_match(settlement(path), tmp_path)


@pytest.mark.parametrize("name", GENUINE)
def test_genuine_reports_against_their_own_captures_all_match(
    shared_fixtures: Path, tmp_path: Path, name: str
) -> None:
    all_match(settlement(shared_fixtures / "settlement" / name), tmp_path)


def test_every_state(tmp_path: Path) -> None:
    rows = settlement(SETTLEMENT_V1)
    export = export_from(rows)
    export.loc[0, "amount"] += 100  # 610000201: one krona more in the API
    missing_from_export = export.loc[1, "number"]
    export = export.drop(index=1)  # 610000202 settled, but not in the export
    export.loc[2, "number"] = "999999999"  # 610000203 under a wrong number: found by payeeReference
    export = pd.concat(
        [
            export,
            pd.DataFrame(
                [
                    {
                        "number": "888000001",
                        "payeeReference": "NEW-1",
                        "type": "Capture",
                        "amount": 50000,
                        "created": "2026-11-18T10:00:00Z",
                    }
                ]
            ),
            export.loc[[5]],  # a duplicate capture: 610000206 twice
        ],
        ignore_index=True,
    )
    report = reconcile_settlement(rows, captures(export, tmp_path), as_of=AS_OF).set_index(
        "transaction_no", drop=False
    )
    assert report.loc["610000201", "state"] == SettlementState.AMOUNT_MISMATCH
    assert report.loc["610000201", "difference_minor"] == -100
    assert report.loc[missing_from_export, "state"] == SettlementState.UNEXPECTED_IN_SETTLEMENT
    assert (report.loc["610000203", "state"], report.loc["610000203", "matched_by"]) == (
        SettlementState.MATCHED,
        "payee reference",
    )
    assert (report.loc["888000001", "state"], report.loc["888000001", "age_days"]) == (
        SettlementState.MISSING_IN_SETTLEMENT,
        3,
    )
    duplicated = "610000206"
    assert set(report.loc[[duplicated], "state"]) == {SettlementState.DUPLICATE}
    assert {s.value for s in SettlementState} == set(report["state"])


def test_a_reversal_links_to_its_capture_in_an_earlier_report(tmp_path: Path) -> None:
    rows = settlement(SETTLEMENT_V1)
    reversal = rows[rows["amount_minor"] < 0]
    capture_no = reversal["referenced_transaction"].iloc[0]
    earlier = rows[rows["transaction_no"] == capture_no].assign(accounting_no="R9001-0000")
    later = rows[rows["transaction_no"] != capture_no]
    export = export_from(later)
    report = reconcile_settlement(later, captures(export, tmp_path), as_of=AS_OF, earlier_settlement=earlier)
    row = report[report["transaction_no"] == reversal["transaction_no"].iloc[0]].iloc[0]
    assert (row["state"], row["linked_capture"]) == (SettlementState.REVERSAL_LINKED, capture_no)
    alone = reconcile_settlement(later, captures(export, tmp_path), as_of=AS_OF)
    assert (
        alone[alone["transaction_no"] == reversal["transaction_no"].iloc[0]]["state"].iloc[0]
        == SettlementState.MATCHED
    )


def test_captures_exports_that_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("number,type\n1,Capture\n")
    with pytest.raises(CapturesUnreadable, match="amount_minor are missing"):
        read_captures(path)
    with pytest.raises(CapturesUnreadable, match="type 'Refund'"):
        normalise_captures(
            pd.DataFrame({"transaction_no": ["1"], "type": ["Refund"], "amount_minor": ["100"]})
        )
    with pytest.raises(CapturesUnreadable, match=r"'12\.5' is not positive minor units"):
        normalise_captures(
            pd.DataFrame({"transaction_no": ["1"], "type": ["Capture"], "amount_minor": ["12.5"]})
        )


def test_numbers_stay_text_in_parquet_exports(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    pd.DataFrame({"number": [10728489593], "type": ["Sale"], "amount": [149500]}).to_parquet(path)
    frame = read_captures(path)
    assert frame["transaction_no"].iloc[0] == "10728489593" and frame["signed_minor"].iloc[0] == 149500


def test_incoming_payments_against_bills() -> None:
    bills = pd.DataFrame(
        {
            "bill_no": ["B1", "B2", "B3"],
            "payment_reference": ["1000004", "1000012", "1000020"],
            "amount_minor": [845000, 910000, 500000],
        }
    )
    incoming = pd.DataFrame(
        {
            "ocr": ["1000004", "1000012", "1000012", "1000020", "1000020", "9999994", "1000004"],
            "amount_minor": [845000, 400000, 510000, 600000, 100, 100000, 845000],
            "booking_date": [
                "2026-11-25",
                "2026-11-25",
                "2026-11-26",
                "2026-11-25",
                "2026-11-26",
                "2026-11-25",
                "2026-11-27",
            ],
            "payer_name": list("ABCDEFG"),
        }
    )
    report = reconcile_incoming(incoming, bills).set_index("payer_name")
    assert report["state"].to_dict() == {
        "A": IncomingState.MATCHED, "G": IncomingState.DUPLICATE_PAYMENT,  # B1 paid twice
        "B": IncomingState.PARTIAL, "C": IncomingState.MATCHED,  # B2 paid in two parts
        "D": IncomingState.OVERPAID, "E": IncomingState.DUPLICATE_PAYMENT,  # B3 overpaid, then paid again
        "F": IncomingState.UNKNOWN_OCR,
    }  # fmt: skip
    assert report.loc["B", "outstanding_minor"] == 510000


def test_report_level_and_option_a_payout() -> None:
    from paydag.reconcile import report_level

    rows = settlement(SETTLEMENT_V2)
    # Option A pays out the net: 18 978.00 − 500.00 fees − 125.00 VAT on them = 18 353.00 transferred.
    [level] = report_level(rows, fees_minor=50000, vat_minor=12500)
    assert level["consistent"] is True and level["rows_sum_minor"] == 1897800
    assert level["expected_payout_minor"] == 1835300
    [broken] = report_level(rows.iloc[1:])
    assert broken["consistent"] is False and broken["rows"] == 11


def test_a_payment_naming_several_references_matches_by_any_of_them() -> None:
    incoming = pd.DataFrame(
        {"id": [1, 2], "ocr": ["98765439", "12345682"], "amount_minor": [620000, 845000],
         "booking_date": ["2026-11-26", "2026-11-26"], "payer_name": ["net of a credit note", "plain"],
         "references": [("98765439", "55555551"), ("12345682",)]}
    )  # fmt: skip
    bills = pd.DataFrame({"bill_no": ["B-1", "B-2"], "payment_reference": ["55555551", "12345682"],
                          "amount_minor": [620000, 845000]})  # fmt: skip
    report = reconcile_incoming(incoming, bills).set_index("payer_name")
    assert report.loc["net of a credit note", "bill_no"] == "B-1"  # by its second reference
    assert set(report["state"]) == {IncomingState.MATCHED}

"""reconcile-settlement under Prefect: a capture missing from today's report is an exception that the
run after tomorrow's report resolves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from flows.ingest_settlement import ingest_settlement_report
from flows.reconcile_settlement import reconcile_settlement
from paydag import resources
from paydag.formats.settlement import parse_settlement
from paydag.settings import load_settings
from tests.conftest import SETTLEMENT_V2


def test_exceptions_carry_forward_across_runs(tmp_path: Path) -> None:
    rows = parse_settlement(SETTLEMENT_V2.read_bytes()).rows
    late_no = rows["transaction_no"].iloc[0]
    export = pd.DataFrame(
        {"number": rows["transaction_no"], "payeeReference": rows["order_id"],
         "type": ["Reversal" if a < 0 else "Capture" for a in rows["amount_minor"]],
         "amount": rows["amount_minor"].abs(), "created": "2026-11-24T12:00:00Z"}
    )  # fmt: skip
    captures = tmp_path / "captures.csv"
    export.to_csv(captures, index=False)

    # Today's report lacks one settled capture (a consistent report: its header and summary fit its rows).
    ingest_settlement_report(source=str(SETTLEMENT_V2))
    curated = load_settings().curated_dir / "settlement" / "R9002-0001.parquet"
    today = pd.read_parquet(curated)
    today[today["transaction_no"] != late_no].to_parquet(curated)
    first = reconcile_settlement(captures=str(captures), as_of="2026-11-25")
    assert first["counts"] == {"matched": 10, "reversal linked": 1, "missing in settlement": 1}
    assert first["exceptions"] == {"opened": 1, "still_open": 0, "resolved": 0}

    # Tomorrow's report has it.
    rows.assign(accounting_no="R9002-0002").to_parquet(curated.with_name("R9002-0002.parquet"))
    second = reconcile_settlement(captures=str(captures), accounting_nos=["R9002-0002"], as_of="2026-11-26")
    assert second["counts"] == {"matched": 11, "reversal linked": 1}
    assert second["exceptions"]["resolved"] == 1
    register = resources.open_register(load_settings())
    [resolved] = register.exceptions("settlement", include_resolved=True)
    register.close()
    assert (resolved.item_key, resolved.resolution) == (late_no, "matched in R9002-0002")
    assert Path(second["out"][0]).exists()

"""Reconciliation exceptions carry forward: a capture missing today is resolved when tomorrow's report has it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from paydag.formats.settlement import parse_settlement
from paydag.reconcile import normalise_captures, reconcile_settlement, settlement_exceptions
from paydag.register import Register
from tests.conftest import SETTLEMENT_V2


def settled_and_captured() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Our v2 report's rows, and the captures export that has every one of them."""
    report = parse_settlement(SETTLEMENT_V2.read_bytes(), SETTLEMENT_V2.name)
    rows = report.rows.assign(accounting_no=report.accounting_no)
    captures = normalise_captures(
        pd.DataFrame(
            {"transaction_no": rows["transaction_no"], "payee_reference": rows["order_id"],
             "type": ["Reversal" if a < 0 else "Capture" for a in rows["amount_minor"]],
             "amount_minor": rows["amount_minor"].abs(), "created": "2022-11-24T12:00:00Z"}
        )
    )  # fmt: skip
    return rows, captures


def test_a_missing_capture_is_resolved_by_the_next_report(database_url: str) -> None:
    rows, captures = settled_and_captured()
    late = rows["transaction_no"].iloc[0]
    register = Register(database_url)
    try:
        today = reconcile_settlement(rows.iloc[1:], captures, as_of=date(2022, 12, 2))
        items, matched = settlement_exceptions(today)
        assert items == {
            late: (
                "missing in settlement",
                {
                    "accounting_no": None,
                    "settled_minor": None,
                    "captured_minor": 129500,
                    "difference_minor": None,
                    "age_days": 8,
                },
            )
        }
        first = register.update_exceptions(
            "settlement",
            open_items=items,
            matched_keys=matched,
            resolution="-",
            now=datetime(2022, 12, 2, tzinfo=UTC),
        )
        again = register.update_exceptions(
            "settlement",
            open_items=items,
            matched_keys=matched,
            resolution="-",
            now=datetime(2022, 12, 3, tzinfo=UTC),
        )
        assert (first.opened, again.opened, again.still_open) == (1, 0, 1)
        [open_] = register.exceptions("settlement")
        assert (open_.item_key, open_.first_seen, open_.last_seen) == (
            late,
            datetime(2022, 12, 2, tzinfo=UTC),
            datetime(2022, 12, 3, tzinfo=UTC),
        )

        tomorrow = reconcile_settlement(rows, captures, as_of=date(2022, 12, 4))
        items, matched = settlement_exceptions(tomorrow)
        update = register.update_exceptions(
            "settlement",
            open_items=items,
            matched_keys=matched,
            resolution="matched in R9002-0001",
            now=datetime(2022, 12, 4, tzinfo=UTC),
        )
        assert (update.opened, update.resolved) == (0, 1)
        assert register.exceptions("settlement") == []
        [resolved] = register.exceptions("settlement", include_resolved=True)
        assert (resolved.resolution, resolved.resolved_at) == (
            "matched in R9002-0001",
            datetime(2022, 12, 4, tzinfo=UTC),
        )
    finally:
        register.close()

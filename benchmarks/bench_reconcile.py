"""Reconciliation at 1 000 000 captures against 1 000 000 settlement rows: paydag's reconcile against
a bare pandas merge on the transaction number, in the same run.

    python -m benchmarks.bench_reconcile [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import numpy as np
import pandas as pd

from benchmarks.verdict import machine, ratio_line
from paydag.reconcile import normalise_captures, reconcile_settlement, state_counts


def tables(rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    numbers = pd.array((20_000_000_000 + np.arange(rows)).astype(str), dtype="string")
    amounts = rng.integers(100, 10_000_000, rows)
    credit = (np.arange(rows) % 97 == 0) & (np.arange(rows) > 0)
    signed = np.where(credit, -amounts, amounts)
    settlement = pd.DataFrame(
        {
            "transaction_no": numbers,
            "order_id": pd.array([f"ORD{i // 2}" for i in range(rows)], dtype="string"),
            "amount_minor": pd.array(signed, dtype="Int64"),
            "currency": "SEK",
            "service": "Swish",
            "accounting_no": "R9999-0001",
            "referenced_transaction": pd.array(
                np.where(credit, (20_000_000_000 + np.arange(rows) - 1).astype(str), None), dtype="string"
            ),
        }
    )
    captures = pd.DataFrame(
        {"transaction_no": numbers, "payee_reference": settlement["order_id"], "type": np.where(credit, "Reversal", "Capture"),
         "amount_minor": amounts, "created": "2026-11-20T10:00:00Z"}
    )  # fmt: skip
    # A realistic tail: 0.1 % not settled yet, 0.1 % settled but unknown to the export, 0.1 % off by 1 öre.
    tail = rows // 1000
    captures.loc[: tail - 1, "transaction_no"] = [f"9{i:010d}" for i in range(tail)]
    captures.loc[tail : 2 * tail - 1, "amount_minor"] += 1
    return settlement, normalise_captures(captures.iloc[: rows - tail].reset_index(drop=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settlement, captures = tables(args.rows)
    bare, ours, report = float("inf"), float("inf"), None
    for _ in range(args.repeat):
        started = time.perf_counter()
        settlement.merge(captures, on="transaction_no", how="outer", indicator=True)
        bare = min(bare, time.perf_counter() - started)
        started = time.perf_counter()
        report = reconcile_settlement(settlement, captures, as_of=date(2026, 11, 21))
        ours = min(ours, time.perf_counter() - started)
    print(
        f"reconcile, {args.rows:,} settlement rows x {len(captures):,} captures, best of {args.repeat}, on {machine()}"
    )
    print(f"  bare pandas merge on the number  {bare:6.2f} s")
    print(f"  paydag reconcile                 {ours:6.2f} s")
    print(
        ratio_line(
            f"reconcile {args.rows:,} x {len(captures):,}", "pandas outer merge", bare, ours, at_most=1.0
        )
    )
    print(f"  states: {state_counts(report)}")


if __name__ == "__main__":
    main()

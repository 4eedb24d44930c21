"""camt.054 at 100 000 transactions: paydag's parser against a bare lxml iterparse of the same file.

The bare run is the floor any lxml-based parser stands on: iterparse over every element, clearing as
it goes, reading nothing. paydag's parser reads every field of every transaction into rows.

    python -m benchmarks.bench_camt054 [--transactions 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from lxml import etree

from benchmarks.verdict import machine, ratio_line
from paydag.formats.camt054 import Camt054Transaction, iter_camt054
from sandbox.bankfiles import BankEntry, BankTransaction, camt054_chunks


def write_file(path: Path, transactions: int, version: str) -> None:
    """A realistic mix: bankgiro deposits of 20 incoming payments each, and executed supplier payments."""

    def entries():
        n = 0
        while n < transactions:
            if (n // 20) % 2 == 0:
                txs = tuple(
                    BankTransaction(
                        Decimal(8000 + i) + Decimal("0.50"),
                        "SEK",
                        acct_svcr_ref=f"BGC{n + i:09d}",
                        end_to_end_id="NOTPROVIDED",
                        ocr=f"{100000 + n + i}",
                        payer_name=f"Hyresgäst {n + i}",
                        payer_account="SE4550000000058398257466",
                        creditor_account="50501055",
                    )
                    for i in range(min(20, transactions - n))
                )
                yield BankEntry("CRDT", "2026-11-25", f"DEP{n:09d}", txs, family="RCDT")
            else:
                txs = tuple(
                    BankTransaction(
                        Decimal(1000 + i),
                        "SEK",
                        msg_id="PDBENCH",
                        pmt_inf_id="PDBENCH-001",
                        end_to_end_id=f"INV-{n + i:07d}",
                        creditor_name="Sågverk Öster AB",
                    )
                    for i in range(min(20, transactions - n))
                )
                yield BankEntry(
                    "DBIT",
                    "2026-11-24",
                    f"EXE{n:09d}",
                    txs,
                    batch_msg_id="PDBENCH",
                    batch_pmt_inf_id="PDBENCH-001",
                )
            n += 20

    with path.open("w", encoding="utf-8") as f:
        for chunk in camt054_chunks(
            version=version,
            msg_id="BENCH",
            created="2026-11-25T06:00:00",
            account_iban="SE6780000832791234567890",
            entries=entries(),
        ):
            f.write(chunk)


def bare_iterparse(path: Path) -> int:
    count = 0
    for _, element in etree.iterparse(
        str(path), events=("end",), resolve_entities=False, no_network=True, huge_tree=True
    ):
        count += 1
        element.clear(keep_tail=False)
    return count


def paydag_parse(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for row in iter_camt054(f, path.name) if isinstance(row, Camt054Transaction))


def best_of(repeat: int, fn, path: Path) -> tuple[float, int]:
    best, result = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn(path)
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"camt.054, {args.transactions:,} transactions, best of {args.repeat}, on {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        for version in ("02", "08"):
            path = Path(tmp) / f"camt054-{version}.xml"
            write_file(path, args.transactions, version)
            bare, elements = best_of(args.repeat, bare_iterparse, path)
            ours, rows = best_of(args.repeat, paydag_parse, path)
            assert rows == args.transactions, rows
            print(
                f"  v{version}  {path.stat().st_size / 2**20:6.1f} MiB  {elements:,} elements  {rows:,} rows"
            )
            print(
                ratio_line(
                    f"camt.054.001.{version} {args.transactions:,} transactions, parse to rows",
                    "lxml iterparse",
                    bare,
                    ours,
                    at_most=0.7,
                )
            )


if __name__ == "__main__":
    main()

"""Settlement transaction list v2 at 1 000 000 rows: `paydag validate` as a user runs it (a process:
interpreter, imports, parse, GX) and paydag's parse alone, against the floor (a bare lxml iterparse)
and against pandas.read_xml, each in a process of its own (time and peak memory).

The four sides run in turn, --repeat rounds of them, and each side's figure is its best round (the
other benchmarks' best of --repeat): the machine's other tenants only ever add time, to either side,
and a round's run of one side then stands beside the others' runs of the same hour. Peak memory is
the highest any round of that side reached.

    python -m benchmarks.bench_settlement [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.verdict import machine, peak_rss_mib, ratio_line

NS = "http://www.payex.com/xml/SalesAccountedTransactions%5B2.0%5D.xsd"
SERVICES = ["Consumer Credit Card EU", "Consumer Debit Card EU", "Swish", "Faktura SE"]


def write_file(path: Path, rows: int) -> None:
    """A v2 list that adds up, written by the sandbox's report writer: captures with every 97th a reversal."""
    from sandbox.settlement import Capture, write_transaction_list

    def captures():
        for n in range(rows):
            reversal = n % 97 == 0 and n > 0
            yield Capture(
                transaction_no=str(20000000000 + n),
                order_id=f"ORD{n // 2:09d}",
                type="Reversal" if reversal else "Capture",
                amount_minor=(100 + n % 900) * 100
                if reversal
                else (100 + (n * 7919) % 90000) * 100 + n % 100,
                vat_minor=None if reversal else ((100 + (n * 7919) % 90000) * 100) // 5,
                service=SERVICES[n % len(SERVICES)],
                created=datetime(2026, 11, 1 + n % 28, 10, n % 60),
                referenced_transaction=str(20000000000 + n - 1) if reversal else None,
            )

    write_transaction_list(
        path,
        captures(),
        accounting_no="R9999-0001",
        accounting_date="2026-12-01",
        settled="2026-11-30 23:59:59",
    )


def run_side(side: str, path: Path) -> dict[str, float]:
    started = time.perf_counter()
    if side == "floor":
        from lxml import etree

        count = 0
        for _, element in etree.iterparse(str(path), events=("end",), huge_tree=True):
            element.clear(keep_tail=False)
            count += 1  # noqa: SIM113 (an iterparse, not a sequence)
    elif side == "parse":
        from paydag.formats.settlement import parse_settlement

        with path.open("rb") as f:
            report = parse_settlement(f, path.name)
        assert report.reader == "arrow", report.notes
        count = len(report.rows)
    elif side == "validate":
        # The whole process, as a user runs it: interpreter, imports, parse, GX, the verdict printed.
        out = subprocess.run(
            [sys.executable, "-m", "paydag.cli", "validate", str(path)], capture_output=True, text=True
        )
        assert out.returncode == 0, out.stdout + out.stderr
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "rows": 0,
            "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        }
    else:
        import pandas as pd

        frame = pd.read_xml(path, xpath="//ns:Transaction", namespaces={"ns": NS}, parser="lxml", dtype=str)
        count = len(frame)
    return {"seconds": time.perf_counter() - started, "rows": count, "peak_mib": peak_rss_mib()}


SIDES = ("floor", "parse", "validate", "pandas")


def run_process(side: str, path: Path) -> dict[str, float]:
    """One side's run, in a process of its own."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_settlement", "--side", side, "--file", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    """The fastest run's time and rows, and the highest peak memory of any run."""
    fastest = min(runs, key=lambda r: r["seconds"])
    return fastest | {"peak_mib": max(r["peak_mib"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--side", choices=["floor", "parse", "validate", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(run_side(args.side, args.file)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "R9999-0001.xml"
        write_file(path, args.rows)
        rounds: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
        for _ in range(args.repeat):
            for side in SIDES:
                rounds[side].append(run_process(side, path))
        size = path.stat().st_size / 2**20
    results = {side: best(runs) for side, runs in rounds.items()}
    floor, parsed, whole, peer = results["floor"], results["parse"], results["validate"], results["pandas"]
    print(
        f"settlement v2, {args.rows:,} rows ({size:.0f} MiB), each side a process of its own, "
        f"best of {args.repeat} rounds, on {machine()}"
    )
    for side, runs in rounds.items():
        print(f"  rounds of {side:<8} " + "  ".join(f"{r['seconds']:6.2f} s" for r in runs))
    print(
        f"  bare lxml iterparse (floor)            {floor['seconds']:7.2f} s   peak RSS {floor['peak_mib']:7.1f} MiB"
    )
    print(
        f"  paydag parse (typed frame, summary)    {parsed['seconds']:7.2f} s   peak RSS {parsed['peak_mib']:7.1f} MiB"
    )
    print(
        f"  `paydag validate` (whole process)      {whole['seconds']:7.2f} s   peak RSS {whole['peak_mib']:7.1f} MiB"
    )
    print(
        f"  pandas.read_xml                        {peer['seconds']:7.2f} s   peak RSS {peer['peak_mib']:7.1f} MiB"
    )
    print(
        ratio_line(
            f"settlement {args.rows:,} rows, `paydag validate` vs the floor",
            "lxml iterparse",
            floor["seconds"],
            whole["seconds"],
            at_most=1.5,
        )
    )
    print(
        ratio_line(
            f"settlement {args.rows:,} rows, `paydag validate` vs read_xml",
            "read_xml",
            peer["seconds"],
            whole["seconds"],
            at_least=10,
            inverse=True,
        )
    )
    print(
        ratio_line(
            f"settlement {args.rows:,} rows, `paydag validate` peak RSS vs read_xml's",
            "read_xml",
            peer["peak_mib"],
            whole["peak_mib"],
            at_most=0.15,
            unit="MiB",
        )
    )
    print(ratio_line(f"settlement {args.rows:,} rows, parse alone vs the floor", "lxml iterparse", floor["seconds"], parsed["seconds"], at_most=1.0))  # fmt: skip


if __name__ == "__main__":
    main()

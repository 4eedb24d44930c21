"""pain.001 at 100 000 payments: paydag (built and XSD-validated) against sepaxml (built, not validated).

Each side runs in a fresh process of its own, so that peak memory is that side's alone; each is timed
best of --repeat. sepaxml builds 100 000 SEPA transfers with its own validation off (it fails at that
size); paydag builds 100 000 Swedish supplier payments of every kind (bankgiro + OCR, plusgiro, BBAN,
SEK and EUR IBAN) and validates the whole file against the XSD before it returns.

    python -m benchmarks.bench_pain001 [--payments 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from benchmarks.verdict import machine, peak_rss_mib, ratio_line

REPO = Path(__file__).resolve().parents[1]
FIRST_DAY = date(2030, 1, 7)  # far enough ahead to be in the future whenever this runs
TZ = ZoneInfo("Europe/Stockholm")


def _as_sepa_transfer(row: dict[str, str]) -> dict[str, str]:
    """The same payment as a SEPA transfer, like the ones the peer builds."""
    return row | {
        "account_type": "IBAN",
        "account": "FI2112345600000785",
        "currency": "EUR",
        "ocr": "",
        "message": f"Invoice {row['payment_id']}",
        "creditor_address": "",
        "creditor_town": "Helsinki",
    }


def run_paydag(payments: int, repeat: int, workdir: Path, sepa: bool = False) -> dict[str, float]:
    os.environ.setdefault("PAYDAG_CONFIG", str(REPO / "config" / "paydag.example.toml"))
    from paydag.formats.bank_profiles import bank_profile
    from paydag.formats.pain001 import build_pain001
    from paydag.payables import PaymentBatch, validate_payables
    from paydag.samples import sample_payables
    from paydag.settings import load_settings

    company = load_settings().company("demo")
    profile = bank_profile(company.bank_profile)
    started = time.perf_counter()
    rows = sample_payables(payments, company="demo", first_day=FIRST_DAY)
    rows = enumerate(map(_as_sepa_transfer, rows) if sepa else rows, start=2)
    valid, report = validate_payables(rows, company="demo", profile=profile, today=FIRST_DAY, source="bench")
    validate_seconds = time.perf_counter() - started
    assert report.ok and len(valid) == payments, report.errors[:3]
    batch = PaymentBatch(company="demo", source="bench", payments=tuple(valid))

    best = float("inf")
    for n in range(repeat):
        started = time.perf_counter()
        built = build_pain001(
            batch,
            company=company,
            profile=profile,
            out=workdir / f"paydag-{n}.xml",
            created_at=datetime.now(TZ),
        )
        best = min(best, time.perf_counter() - started)
        assert built.nb_of_txs == payments
    return {
        "seconds": best,
        "validate_rows_seconds": validate_seconds,
        "bytes": built.size,
        "peak_rss_mib": peak_rss_mib(),
    }


def run_cli(payments: int, repeat: int, workdir: Path) -> dict[str, float]:
    """`paydag build-pain001` as a user runs it, a process of its own each time (best of `repeat`, as
    the peer is timed): read the CSV, validate every row, write the file, check it against the XSD."""
    import csv

    from paydag.samples import sample_payables

    rows = list(sample_payables(payments, company="demo", first_day=FIRST_DAY))
    payables = workdir / "payables.csv"
    with payables.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = workdir / "cli.xml"
    # A home of its own: no register, so no checks against earlier payments (a checkout's .paydag/
    # register from a demo would add them, and the figure would depend on what the demo left).
    env = os.environ | {"PAYDAG_CONFIG": str(REPO / "config" / "paydag.example.toml"),
                        "PAYDAG_HOME": str(workdir / "home")}  # fmt: skip
    command = [sys.executable, "-m", "paydag.cli", "build-pain001", str(payables), "--company", "demo",
               "--out", str(out), "--today", FIRST_DAY.isoformat()]  # fmt: skip
    seconds = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = min(seconds, time.perf_counter() - started)
        assert done.returncode == 0, done.stdout + done.stderr
    # The largest of the runs (and of their XSD checkers, which start from the process as it is then).
    return {"seconds": seconds, "bytes": out.stat().st_size,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}  # fmt: skip


def run_sepaxml(payments: int, repeat: int, workdir: Path) -> dict[str, float]:
    from sepaxml import SepaTransfer

    config = {
        "name": "Demo Fastigheter AB",
        "IBAN": "DE89370400440532013000",
        "BIC": "COBADEFFXXX",
        "batch": True,
        "currency": "EUR",
    }
    best = float("inf")
    for n in range(repeat):
        started = time.perf_counter()
        transfer = SepaTransfer(config, clean=True)
        for i in range(payments):
            transfer.add_payment(
                {
                    "name": f"Creditor {i}",
                    "IBAN": "FI2112345600000785",
                    "BIC": "NDEAFIHH",
                    "amount": 1000 + (i * 7919) % 250_000,
                    "execution_date": FIRST_DAY,
                    "description": f"Invoice {i + 1}",
                    "endtoend_id": f"INV-{i + 1:07d}",
                }
            )
        data = transfer.export(validate=False)
        (workdir / f"sepaxml-{n}.xml").write_bytes(data)
        best = min(best, time.perf_counter() - started)
        del transfer
    return {"seconds": best, "bytes": len(data), "peak_rss_mib": peak_rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--side", choices=["paydag", "paydag-sepa", "paydag-cli", "sepaxml"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    if args.side:
        with tempfile.TemporaryDirectory() as tmp:
            if args.side == "sepaxml":
                result = run_sepaxml(args.payments, args.repeat, Path(tmp))
            elif args.side == "paydag-cli":
                result = run_cli(args.payments, args.repeat, Path(tmp))
            else:
                result = run_paydag(args.payments, args.repeat, Path(tmp), sepa=args.side == "paydag-sepa")
            print(json.dumps(result))
        return

    results = {}
    for side in ("paydag", "paydag-sepa", "paydag-cli", "sepaxml"):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_pain001",
                "--side",
                side,
                "--payments",
                str(args.payments),
                "--repeat",
                str(args.repeat),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results[side] = json.loads(out.stdout)
    ours, sepa, cli, peer = (
        results["paydag"],
        results["paydag-sepa"],
        results["paydag-cli"],
        results["sepaxml"],
    )
    print(f"pain.001, {args.payments:,} payments, best of {args.repeat}, on {machine()}")
    print(f"  {'':34} {'seconds':>8} {'file MiB':>9} {'peak RSS MiB':>13} {'sepaxml/x':>10}")
    rows = [
        ("paydag, Swedish mix, + XSD check", ours),
        ("paydag, SEPA only, + XSD check", sepa),
        ("`paydag build-pain001`, whole process", cli),
        ("sepaxml, SEPA, no validation", peer),
    ]
    for label, r in rows:
        print(
            f"  {label:34} {r['seconds']:8.2f} {r['bytes'] / 2**20:9.1f} {r['peak_rss_mib']:13.1f}"
            f" {peer['seconds'] / r['seconds']:9.2f}x"
        )
    print(
        f"  paydag row validation of the Swedish mix (not timed above): {ours['validate_rows_seconds']:.2f} s"
    )
    print(
        ratio_line(
            f"pain.001 {args.payments:,} payables, `paydag build-pain001` end to end",
            "sepaxml",
            peer["seconds"],
            cli["seconds"],
            at_least=1.7,
            inverse=True,
        )
    )
    print(
        ratio_line(
            f"pain.001 {args.payments:,} payables, `paydag build-pain001` peak RSS",
            "150 MiB",
            150.0,
            cli["peak_rss_mib"],
            at_most=1.0,
            unit="MiB",
        )
    )


if __name__ == "__main__":
    main()

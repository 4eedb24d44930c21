"""A busy day under load, the way production runs it: a Prefect server on PostgreSQL, two process workers,
the register on PostgreSQL, the raw store on S3 (moto's server), the provider sandbox. 20 companies ×
50 return files each (camt.054 credit notifications, 20 incoming payments a file) and a 100 000-row
settlement report in an S3 inbox: one poll run per company and one ingest run, started together.

Prints files per second, the slowest poll, the ingest, and the check that every file was stored,
applied and acknowledged exactly once.

    python -m benchmarks.bench_load [--companies 20] [--files 50] [--transactions 20]
                                    [--settlement-rows 100000] [--workers 2] [--limit 4]

PostgreSQL: PAYDAG_TEST_DATABASE_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/test (two
databases are made and dropped again); without it the run says so and stops.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.bench_settlement import write_file as write_settlement
from benchmarks.verdict import machine
from paydag.cli.demo.stack import PREFECT, REPO, Stack, free_port, prefect_cli
from paydag.cli.runtime import PREFECT_SERVER_SETTINGS
from paydag.samples import ocr_reference
from sandbox.bankfiles import BankEntry, BankTransaction, camt054
from sandbox.credentials import environment as sandbox_environment

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
COMPANY = """
[companies.{id}]
legal_name = "Last {n} Fastigheter AB"
org_number = "556677-8899"
debtor_account = "SE67 8000 0832 7912 3456 7890"
bic = "SWEDSESS"
bank_profile = "swedbank"
provider_company_id = "{provider}"
bank_customer_id = "556677889900A001"
"""


def databases(count: int) -> tuple[list[str], Callable[[], None]]:
    """`count` fresh PostgreSQL databases, and how to drop them."""
    server = os.environ.get("PAYDAG_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    names = [f"paydag_load_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return [make_url(server).set(database=n).render_as_string(hide_password=False) for n in names], drop


def notification(company: int, file: int, transactions: int) -> bytes:
    entries = [
        BankEntry("CRDT", "2026-12-01", f"L{company:02d}-{file:03d}-{t:03d}", family="RCDT", transactions=(
            BankTransaction(Decimal(8000 + t) + Decimal("0.50"), "SEK", acct_svcr_ref=f"L{company:02d}-{file:03d}-{t:03d}-1",
                            ocr=ocr_reference(company * 1_000_000 + file * 1_000 + t), payer_name=f"Hyresgäst {t}"),
        ))
        for t in range(transactions)
    ]  # fmt: skip
    return camt054(version="02", msg_id=f"LOAD-{company:02d}-{file:03d}", created="2026-12-01T06:00:00",
                   account_iban="SE4550000000058398257466", entries=entries)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--transactions", type=int, default=20)
    parser.add_argument("--settlement-rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=4, help="flow runs at a time per worker")
    args = parser.parse_args()
    try:
        (prefect_db, register_db), drop = databases(2)
    except Exception as exc:  # no server: say so, measure nothing
        print(
            f"load run skipped: PostgreSQL not reachable ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        )
        return
    work = Path(tempfile.mkdtemp(prefix="paydag-load-"))
    stack = Stack(work)
    try:
        run(args, work, stack, prefect_db, register_db)
    finally:
        stack.stop()
        drop()
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path, stack: Stack, prefect_db: str, register_db: str) -> None:
    companies = [f"c{n:02d}" for n in range(1, args.companies + 1)]
    s3_port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PAYDAG_", "AWS_"))}
    aws = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}", "AWS_ACCESS_KEY_ID": "load", "AWS_SECRET_ACCESS_KEY": "load",
           "AWS_DEFAULT_REGION": "eu-north-1"}  # fmt: skip
    stack.serve("s3", [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(s3_port)],
                base, health=f"http://127.0.0.1:{s3_port}/moto-api/", timeout=60)  # fmt: skip
    import boto3

    s3 = boto3.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL"], aws_access_key_id="load", aws_secret_access_key="load",
                      region_name="eu-north-1")  # fmt: skip
    s3.create_bucket(Bucket="paydag-load", CreateBucketConfiguration={"LocationConstraint": "eu-north-1"})
    sandbox = stack.sandbox(free_port())
    prefect_env = base | PREFECT_SERVER_SETTINGS | {
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": make_url(prefect_db).set(drivername="postgresql+asyncpg")
        .render_as_string(hide_password=False),
    }  # fmt: skip
    api = f"{stack.prefect_server(free_port(), prefect_env)}/api"
    env = prefect_env | {"PREFECT_API_URL": api}
    config = work / "paydag.toml"
    config.write_text("".join(COMPANY.format(id=c, n=c[1:], provider=f"load-{c}") for c in companies))
    worker_env = env | aws | sandbox_environment(pagero_url=sandbox, payex_url=sandbox, autogiro_url=sandbox) | {
        "PAYDAG_HOME": str(work / "paydag"), "PAYDAG_CONFIG": str(config), "PAYDAG_DATABASE_URL": register_db,
        "PAYDAG_RAW_STORE": "s3://paydag-load/raw", "PAYDAG_SETTLEMENT_INBOX": "s3://paydag-load/inbox/",
        "PAYDAG_PAGERO_BASE_URL": sandbox, "PAYDAG_CHECKOUT": str(REPO), "PREFECT_WORKER_QUERY_SECONDS": "1",
    }  # fmt: skip
    prefect_cli(env, "work-pool", "create", "paydag", "--type", "process", step="the work pool")
    prefect_cli(env, "--no-prompt", "deploy", "--name", "poll-return-files", "--name", "ingest-settlement-report",
                "--prefect-file", "deployments/prefect.yaml", step="deploying", timeout=300)  # fmt: skip
    ids = {}
    for name in ("poll-return-files", "ingest-settlement-report"):
        deployment = httpx.get(f"{api}/deployments/name/{name}/{name}").json()
        ids[name] = deployment["id"]
        for schedule in deployment.get("schedules", []):  # no scheduled run in the middle of the measurement
            httpx.patch(
                f"{api}/deployments/{deployment['id']}/schedules/{schedule['id']}", json={"active": False}
            )

    print(f"load run: {len(companies)} companies x {args.files} return files ({args.transactions} payments each) "
          f"and a {args.settlement_rows:,}-row settlement report, on {machine()}")  # fmt: skip
    started = time.perf_counter()
    for n, c in enumerate(companies, start=1):
        for f in range(args.files):
            body = {"company_id": f"load-{c}", "document_type": "camt.054", "name": f"Camt054C-{c}-{f:03d}.xml",
                    "content_base64": base64.b64encode(notification(n, f, args.transactions)).decode()}  # fmt: skip
            httpx.post(f"{sandbox}/_sandbox/documents", json=body, timeout=30).raise_for_status()
    report = work / f"TransactionList-load-{date.today()}.xml"
    write_settlement(report, args.settlement_rows)
    s3.upload_file(str(report), "paydag-load", f"inbox/{report.name}")
    print(f"  set-up: {len(companies) * args.files} documents at the provider, the report in the inbox "
          f"({report.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.1f} s")  # fmt: skip

    for w in range(args.workers):
        stack.start(f"worker-{w}", [str(PREFECT), "worker", "start", "--pool", "paydag", "--type", "process",
                                    "--name", f"load-{w}", "--limit", str(args.limit)], worker_env, cwd=REPO)  # fmt: skip
    began = time.perf_counter()
    runs = [httpx.post(f"{api}/deployments/{ids['poll-return-files']}/create_flow_run",
                       json={"parameters": {"company": c}}, timeout=60).json()["id"] for c in companies]  # fmt: skip
    ingest = httpx.post(f"{api}/deployments/{ids['ingest-settlement-report']}/create_flow_run",
                        json={"parameters": {"company": companies[0]}}, timeout=60).json()["id"]  # fmt: skip
    every = [*runs, ingest]
    while True:
        try:  # the server is as busy as the workers: it may take a while to answer
            found = httpx.post(
                f"{api}/flow_runs/filter",
                json={"flow_runs": {"id": {"any_": every}}, "limit": 200},
                timeout=60,
            ).json()
        except httpx.TimeoutException:
            continue
        if len(found) == len(every) and all(r["state_type"] in FINAL for r in found):
            break
        if time.perf_counter() - began > 3600:
            raise SystemExit("load run: not finished after an hour")
        time.sleep(1)
    wall = time.perf_counter() - began
    by_id = {r["id"]: r for r in found}

    def took(r: dict) -> float:
        return (
            datetime.fromisoformat(r["end_time"]) - datetime.fromisoformat(r["start_time"])
        ).total_seconds()

    polls = [by_id[i] for i in runs]
    states = Counter(r["state_type"] for r in found)
    poll_span = (max(datetime.fromisoformat(r["end_time"]) for r in polls)
                 - min(datetime.fromisoformat(r["start_time"]) for r in polls)).total_seconds()  # fmt: skip
    files = len(companies) * args.files
    slowest = max(polls, key=took)
    print(f"  runs: {dict(states)} in {wall:.1f} s from the first run asked for to the last one finished")
    for r in found:
        if r["state_type"] != "COMPLETED":
            print(f"    {r['name']}: {r['state_type']}: {(r['state'] or {}).get('message')}")
    print(f"  return files: {files} in {poll_span:.1f} s of polling: {files / poll_span:.1f} files/s "
          f"({files * args.transactions:,} incoming payments)")  # fmt: skip
    print(f"  slowest poll: {slowest['name']} {took(slowest):.1f} s (of {args.files} files); "
          f"the median {sorted(took(r) for r in polls)[len(polls) // 2]:.1f} s")  # fmt: skip
    print(
        f"  settlement ingest: {took(by_id[ingest]):.1f} s ({args.settlement_rows:,} rows, validated and curated)"
    )

    # Exactly once: every document acknowledged once, every file stored once, every payment applied once.
    provider = httpx.get(f"{sandbox}/_sandbox/state", timeout=120).json()
    acknowledged = Counter(a["id"] for a in provider["acknowledgements"])
    acked_once = set(acknowledged) == {d["id"] for d in provider["documents"]} and set(
        acknowledged.values()
    ) == {1}
    stored = sum(
        len(page.get("Contents", []))
        for c in companies
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket="paydag-load", Prefix=f"raw/incoming/{c}/"
        )
    )
    register = create_engine(register_db)
    with register.connect() as conn:
        processed = conn.execute(text("select count(*) from files where direction = 'incoming' and state = 'PROCESSED' "
                                      "and kind like 'camt.054%'")).scalar()  # fmt: skip
        incoming = conn.execute(
            text("select count(*), count(distinct acct_svcr_ref) from incoming_payments")
        ).one()
        curated = (
            conn.execute(text("select row_count from settlement_reports where state = 'CURATED'"))
            .scalars()
            .all()
        )
    register.dispose()
    checks = {
        "every document acknowledged exactly once": acked_once and len(acknowledged) == files,
        "every file stored once in S3": stored == files,
        "every file applied once": processed == files,
        "every payment recorded once": tuple(incoming) == (files * args.transactions,) * 2,
        "the settlement report curated": curated == [args.settlement_rows],
        "every run completed": states == Counter({"COMPLETED": len(every)}),
    }
    for what, ok in checks.items():
        print(f"  {what}: {'met' if ok else 'not met'}")
    if not all(checks.values()):
        print(f"  (acknowledged {len(acknowledged)}, stored {stored}, processed {processed}, payments {tuple(incoming)}, "
              f"curated {curated})")  # fmt: skip


if __name__ == "__main__":
    main()

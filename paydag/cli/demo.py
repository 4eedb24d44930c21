"""What `paydag demo` runs besides Prefect's own client: the processes of a small installation (the
provider sandbox, a Prefect server on SQLite under PAYDAG_HOME, a process worker on the `paydag` pool),
the day's sample data, and the summary read back from the register and the reports.

Every process logs to `PAYDAG_HOME/demo/logs/`; every wait has a deadline and fails naming the step
and the log to read, so the demo ends with an error, never a hang.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx

from paydag.samples import ocr_reference, sample_payables, write_payables_csv
from paydag.settings import Settings, config_path

REPO = Path(__file__).resolve().parents[2]  # the checkout: deployments/ and the flows the worker runs
PREFECT = Path(sys.executable).with_name("prefect")
BLOCKED_ACCOUNT = "123455"  # the sample plusgiro supplier: the sandbox bank refuses it (AC01)
RENT_PAYERS = 3  # tenants paying their PayEx bill by OCR into the bankgiro


class DemoError(RuntimeError):
    """A step of the demo failed; the message names the step and where to look."""


class PortTaken(DemoError):
    pass


def check_free(port: int, option: str) -> None:
    """Before a process is started on `port`: PortTaken, naming the option that moves it."""
    from sandbox.server import PortInUse
    from sandbox.server import check_free as check

    try:
        check("127.0.0.1", port, option)
    except PortInUse as exc:
        raise PortTaken(str(exc)) from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    ready: Callable[[], bool],
    *,
    step: str,
    timeout: float,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
) -> None:
    """Poll `ready` until it holds; DemoError naming the step (and the log's tail) when the process
    dies or the deadline passes."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            raise DemoError(f"{step}: the process exited with {process.returncode}{_tail(log)}")
        if time.monotonic() > deadline:
            raise DemoError(f"{step}: not done after {timeout:.0f} s{_tail(log)}")
        time.sleep(0.5)


def _tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\n  (log {log}, last lines:)\n    " + "\n    ".join(text)


def healthy(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    return check


@dataclass
class Stack:
    """The processes the demo starts, stopped in reverse order by `stop()` (or left running)."""

    home: Path
    processes: list[tuple[str, subprocess.Popen, IO[bytes]]] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        path = self.home / "demo" / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(
        self, name: str, args: list[str], env: dict[str, str], cwd: Path | None = None
    ) -> tuple[subprocess.Popen, Path]:
        log_path = self.logs / f"{name}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(  # noqa: S603 (our interpreter and the prefect executable beside it)
            args, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )  # its own session: Ctrl-C reaches the demo, which stops it in order
        self.processes.append((name, process, log))
        return process, log_path

    def sandbox(self, port: int) -> str:
        check_free(port, "--sandbox-port")
        url = f"http://127.0.0.1:{port}"
        args = [sys.executable, "-m", "paydag.cli", "sandbox", "--port", str(port),
                "--state-dir", str(self.home / "sandbox")]  # fmt: skip
        self.serve("sandbox", args, dict(os.environ), health=f"{url}/_sandbox/state", timeout=60)
        return url

    def prefect_server(self, port: int, env: dict[str, str]) -> str:
        """`prefect server start` with the environment's database (SQLite under PREFECT_HOME by default)."""
        check_free(port, "--prefect-port")
        url = f"http://127.0.0.1:{port}"
        args = [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        env = env | {"PREFECT_UI_API_URL": f"{url}/api"}  # the UI's pages call the API on this port
        self.serve("prefect-server", args, env, health=f"{url}/api/health", timeout=180)
        return url

    def serve(self, name: str, args: list[str], env: dict[str, str], *, health: str, timeout: float) -> None:
        """Start a server and wait until `health` answers 200."""
        process, log = self.start(name, args, env)
        wait_until(healthy(health), step=f"starting the {name}", timeout=timeout, process=process, log=log)

    def worker(self, env: dict[str, str]) -> None:
        args = [
            str(PREFECT),
            "worker",
            "start",
            "--pool",
            "paydag",
            "--type",
            "process",
            "--name",
            "paydag-demo",
        ]
        process, log = self.start("worker", args, env, cwd=REPO)
        time.sleep(1)
        if process.poll() is not None:
            raise DemoError(f"starting the worker: it exited with {process.returncode}{_tail(log)}")

    def stop(self) -> None:
        for _name, process, log in reversed(self.processes):
            if process.poll() is None:
                # The worker starts each flow run in a session of its own: those are stopped as well.
                children = _descendants(process.pid)
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
                for pid in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            log.close()
        self.processes.clear()


def _descendants(pid: int) -> list[int]:
    """The processes below `pid` (Linux /proc; none where it is absent)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        direct = [int(c) for c in children.read_text().split()]
    except OSError:
        return []
    return [d for c in direct for d in (c, *_descendants(c))]


# How paydag's Prefect servers run, the demo's and the temporary ones the commands start: no analytics,
# and concurrency leases kept in files under PREFECT_HOME. A provider tag slot (pagero-api, …) held by a
# task whose process died is freed by the server when its lease runs out; with the default in-memory
# lease storage, a server restarted meanwhile forgets the lease and the slot stays taken for good.
PREFECT_SERVER_SETTINGS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
}


def prefect_env(settings: Settings, api_url: str | None = None) -> dict[str, str]:
    """The environment of the demo's Prefect processes: its state under PAYDAG_HOME, no analytics."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str((settings.home / "prefect").resolve()),
        **PREFECT_SERVER_SETTINGS,
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    if api_url:
        env["PREFECT_API_URL"] = f"{api_url}/api"
    return env


def worker_env(settings: Settings, api_url: str, sandbox_url: str, captures: Path) -> dict[str, str]:
    """What the flow runs the worker starts need: where the state is and where the providers are."""
    from sandbox.credentials import environment

    sandbox = environment(pagero_url=sandbox_url, payex_url=sandbox_url, autogiro_url=sandbox_url)
    return (
        prefect_env(settings, api_url)
        | sandbox
        | {
            "PAYDAG_HOME": str(settings.home.resolve()),
            "PAYDAG_CONFIG": str(config_path().resolve()),
            "PAYDAG_PAGERO_BASE_URL": sandbox_url,
            "PAYDAG_PAYEX_BASE_URL": sandbox_url,
            "PAYDAG_AUTOGIRO_BASE_URL": sandbox_url,
            "PAYDAG_CAPTURES_EXPORT": str(captures),
            "PAYDAG_CHECKOUT": str(REPO),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        }
    )


def prefect_cli(env: dict[str, str], *args: str, step: str, timeout: float = 180) -> str:
    try:
        done = subprocess.run(  # noqa: S603 (the prefect executable beside our interpreter)
            [str(PREFECT), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise DemoError(f"{step}: `prefect {' '.join(args)}` did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        raise DemoError(f"{step}: `prefect {' '.join(args)}` failed: {(done.stdout + done.stderr)[-1500:]}")
    return done.stdout


# --- the day's data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoDay:
    """The sample data of one demo day. Ids carry the day: a second demo on the same day is the same
    batch (not sent again) and the same captures (not settled again)."""

    today: date
    provider_company_id: str

    @property
    def first_day(self) -> date:
        return self.today + timedelta(days=1)

    @property
    def accounting_no(self) -> str:
        return f"DEMO-{self.today:%Y%m%d}"

    @property
    def payment_prefix(self) -> str:
        return f"DEMO{self.today:%Y%m%d}-"

    def payables(self, directory: Path) -> Path:
        rows = sample_payables(12, company="demo", first_day=self.first_day, id_prefix=self.payment_prefix)
        return write_payables_csv(rows, directory / f"payables-{self.today}.csv")

    def bank_rules(self) -> dict[str, Any]:
        invoices = [
            {
                "company_id": self.provider_company_id,
                "ocr": ocr_reference(4711000 + n),
                "amount": f"{8450 + 125 * n}.00",
                "payer_name": f"Hyresgäst {n + 1}",
                "paid_on": self.first_day.isoformat(),
            }
            for n in range(RENT_PAYERS)
        ]  # fmt: skip  (the PayEx sandbox's open bills carry these OCRs and amounts)
        return {"blocked_accounts": [BLOCKED_ACCOUNT], "invoices": invoices}

    def captures(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Card and Swish captures (and a reversal) that Swedbank Pay settles today, and one made after
        the cut that only tomorrow's report will have."""
        at = f"{self.today:%Y-%m-%d} 10:00:00"
        prefix = f"{self.today:%y%m%d}"
        settled = [
            {"transaction_no": f"{prefix}{n:04d}", "order_id": f"ORD-{prefix}-{n}", "type": "Capture",
             "amount": 12500 + 1000 * n, "vat_amount": (12500 + 1000 * n) // 5, "service": ("Swish", "CreditCard")[n % 2],
             "created": at}
            for n in range(8)
        ]  # fmt: skip
        settled.append(
            {"transaction_no": f"{prefix}0100", "order_id": f"ORD-{prefix}-1", "type": "Reversal", "amount": 2000,
             "vat_amount": 400, "service": "CreditCard", "created": at, "referenced_transaction": f"{prefix}0001"}
        )  # fmt: skip
        late = [
            {"transaction_no": f"{prefix}0200", "order_id": f"ORD-{prefix}-late", "type": "Capture", "amount": 9900,
             "vat_amount": 1980, "service": "Swish", "created": f"{self.today:%Y-%m-%d} 23:59:30"}
        ]  # fmt: skip
        return settled, late

    def captures_export(self, path: Path) -> Path:
        """The payments API's captures as the back office exports them (what reconciliation reads)."""
        import csv

        settled, late = self.captures()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["number", "payeeReference", "type", "amount", "created"])
            for c in settled + late:
                created = datetime.strptime(c["created"], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 (local time)
                writer.writerow(
                    [
                        c["transaction_no"],
                        c["order_id"],
                        c["type"],
                        c["amount"],
                        f"{created:%Y-%m-%dT%H:%M:%S}",
                    ]
                )
        return path


def prepare_sandbox(url: str, day: DemoDay) -> None:
    """The sandbox bank's rules and Swedbank Pay's captures for the day (the sandbox keeps each once)."""
    httpx.post(f"{url}/_sandbox/bank", json=day.bank_rules(), timeout=10).raise_for_status()
    settled, _late = day.captures()
    httpx.post(f"{url}/_sandbox/captures", json=settled, timeout=10).raise_for_status()


def close_the_day(url: str, day: DemoDay, days: int = 10) -> dict[str, Any]:
    """Move the bank clock past the execution dates (bookings, incoming rent), settle the day's
    captures into a report delivered to the company's inbox, then capture the late one."""
    httpx.post(f"{url}/_sandbox/advance", json={"seconds": days * 86400}, timeout=30).raise_for_status()
    settled = httpx.post(
        f"{url}/_sandbox/settle",
        json={"accounting_no": day.accounting_no, "deliver_to": day.provider_company_id},
        timeout=30,
    )
    settled.raise_for_status()
    _settled, late = day.captures()
    httpx.post(f"{url}/_sandbox/captures", json=late, timeout=10).raise_for_status()
    return settled.json()


# --- the summary ---------------------------------------------------------------------------------------


def summary(settings: Settings, day: DemoDay, report: Path | None) -> dict[str, Any]:
    """What the day did, read back from the register, the curated bills and the reconciliation report."""
    import pandas as pd

    from paydag.reconcile import incoming_frame, reconcile_incoming, state_counts
    from paydag.resources import open_register
    from paydag.sync import bills_for_reconciliation

    register = open_register(settings)
    try:
        payments = [
            p for p in register.payments(company_id="demo") if p.payment_id.startswith(day.payment_prefix)
        ]
        incoming = incoming_frame(register.incoming_payments("demo"))
        settlement = register.settlement(day.accounting_no)
    finally:
        register.close()
    states: dict[str, int] = {}
    for p in payments:
        states[p.state.value] = states.get(p.state.value, 0) + 1
    matched = {}
    if len(incoming) and (settings.curated_dir / "credit_accounts" / "bills.parquet").exists():
        matched = dict(
            reconcile_incoming(incoming, bills_for_reconciliation(settings.curated_dir))[
                "state"
            ].value_counts()
        )
    reconciliation = state_counts(pd.read_parquet(report)) if report is not None and report.exists() else {}
    return {
        "payments": {"batch": payments[0].msg_id if payments else None, "count": len(payments), "states": dict(sorted(states.items())),
                     "rejected": [{"payment_id": p.payment_id, "reason": p.reason_code, "text": p.reason_text}
                                  for p in payments if p.state.value in ("REJECTED", "RETURNED")]},
        "incoming_payments": {"count": len(incoming), "states": {str(k): int(v) for k, v in sorted(matched.items())}},
        "settlement": None if settlement is None else {
            "accounting_no": settlement.accounting_no, "state": settlement.state, "rows_validated": settlement.row_count},
        "reconciliation": {str(k): int(v) for k, v in reconciliation.items()},
    }  # fmt: skip


def report_path(settings: Settings) -> Path:
    return settings.home / "reports" / f"reconciliation-{settings.today().isoformat()}.parquet"


def iter_lines(doc: dict[str, Any]) -> Iterator[str]:
    """The summary as a person reads it."""
    p = doc["payments"]
    yield f"payments of batch {p['batch']}: " + ", ".join(f"{n} {s}" for s, n in p["states"].items())
    for r in p["rejected"]:
        yield f"  {r['payment_id']} {r['reason']}: {r['text']}"
    i = doc["incoming_payments"]
    yield (
        f"incoming payments routed to the rent ledger: {i['count']} ("
        + (", ".join(f"{n} {s}" for s, n in i["states"].items()) or "no bills synced")
        + " against PayEx bills)"
    )
    s = doc["settlement"]
    yield ("settlement: none ingested" if s is None
           else f"settlement report {s['accounting_no']}: {s['state']}, {s['rows_validated']} rows validated")  # fmt: skip
    yield "reconciliation: " + (
        ", ".join(f"{n} {st}" for st, n in doc["reconciliation"].items()) or "no report"
    )

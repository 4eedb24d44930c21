"""The processes of a small installation, as the demo and the end-to-end tests run them: the provider
sandbox, a Prefect server on SQLite under PAYDAG_HOME, a process worker on the `paydag` pool.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from paydag.cli.runtime import PREFECT_SERVER_SETTINGS, prefect_project, sandbox_credentials
from paydag.settings import Settings, config_path

REPO = prefect_project()  # the checkout: deployments/ and the flows the worker runs
PREFECT = Path(sys.executable).with_name("prefect")


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
        # The day's runs follow one another (the poll's settlement report triggers the ingest, the
        # ingest the reconciliation): a worker asking every 10 s, Prefect's default, adds up to 10 s
        # to each. The demo's asks every 2 s.
        process, log = self.start("worker", args, env | {"PREFECT_WORKER_QUERY_SECONDS": "2"}, cwd=REPO)
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


DEMO_REQUESTER, DEMO_APPROVER = (
    "Anna Inköp",
    "Britt Ekonomi",
)  # who asks for the demo's batch, who approves it


def worker_env(settings: Settings, api_url: str, sandbox_url: str, captures: Path) -> dict[str, str]:
    """What the flow runs the worker starts need: where the state is and where the providers are."""
    sandbox = sandbox_credentials(sandbox_url, sandbox_url, sandbox_url)
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
            # The demo company's batches wait for a second person's approval, which the demo gives.
            "PAYDAG_COMPANIES__DEMO__APPROVERS": f'["{DEMO_APPROVER}"]',
            "PAYDAG_COMPANIES__DEMO__APPROVAL_THRESHOLD": "1000",
            "PAYDAG_APPROVAL_POLL_SECONDS": "1",
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

"""One poll per company, as operators meet it: `paydag poll` processes on SQLite and on PostgreSQL,
killed with SIGKILL while they hold the claim, stopped while they wait, started two at once, their
Prefect server restarted under them; `paydag status` and `paydag unlock` on a stuck claim."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from paydag import resources, send
from paydag.formats.bank_profiles import bank_profile
from paydag.providers.channel import SendMode
from paydag.register import Register
from paydag.register.claims import ClaimAction, ClaimEvent
from paydag.samples import sample_payables, write_payables_csv
from paydag.settings import load_settings
from tests.conftest import REPO

PAYDAG = Path(sys.executable).with_name("paydag")
LEASE = 6  # seconds: a dead holder's claim is free this long after its last renewal


@dataclass
class Day:
    """The company's state: a register, the sandbox with the bank's answers to a sent batch waiting."""

    env: dict[str, str]
    register: Register
    sandbox: str
    home: Path

    def poll(self, name: str, *args: str, **env: str) -> Process:
        return Process.start(name, [str(PAYDAG), "poll", "--company", "demo", "--json", *args],
                             self.env | env, self.home)  # fmt: skip

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(PAYDAG), *args], env=self.env, input=stdin, capture_output=True,
                              text=True, timeout=120, cwd=self.home)  # fmt: skip

    def holder(self) -> str | None:
        return self.register.claims.claim("poll", "demo").holder

    def events(self) -> list[ClaimEvent]:
        return self.register.claims.events("poll", "demo")

    def faults(self, *faults: dict[str, object]) -> None:
        httpx.post(f"{self.sandbox}/_sandbox/faults", json=list(faults)).raise_for_status()

    def provider(self) -> dict:
        return httpx.get(f"{self.sandbox}/_sandbox/state").json()

    def assert_every_document_acknowledged_once(self) -> None:
        state = self.provider()
        acknowledged = Counter(a["id"] for a in state["acknowledgements"])
        assert set(acknowledged) == {d["id"] for d in state["documents"]}
        assert set(acknowledged.values()) == {1}


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    out: Path
    err: Path

    @classmethod
    def start(cls, name: str, args: list[str], env: dict[str, str], home: Path) -> Process:
        out, err = home / f"{name}.out", home / f"{name}.err"
        with out.open("wb") as o, err.open("wb") as e:
            # Ctrl-C as at a terminal: a shell's background job (`make test &`) starts with SIGINT
            # ignored, and a child inherits that, so the process would never see the test's Ctrl-C.
            popen = subprocess.Popen(args, env=env, stdout=o, stderr=e, cwd=home, start_new_session=True,
                                     preexec_fn=_interruptible)  # fmt: skip
        return cls(name, popen, out, err)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def result(self, timeout: float) -> tuple[int, dict]:
        code = self.popen.wait(timeout=timeout)
        text = self.out.read_text()
        return code, json.loads(text) if text.strip() else {}

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


def wait_for(what: str, ready: Callable[[], bool], timeout: float, *processes: Process) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        for p in processes:
            if p.popen.poll() is not None:
                pytest.fail(f"{what}: {p.name} exited with {p.popen.returncode}\n{p.stderr()[-3000:]}")
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.stderr()[-3000:]}" for p in processes)
            pytest.fail(f"{what}: not after {timeout} s\n{tails}")
        time.sleep(0.2)


def holds(day: Day, process: Process) -> Callable[[], bool]:
    return lambda: f"pid {process.pid} on " in (day.holder() or "")


@pytest.fixture
def day(
    database_url: str, sandbox_url: str, prefect_server_api: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Day]:  # fmt: skip
    """A batch of 6 sent (through the library's send steps) and the bank's clock moved past it: the
    company has a pain.002 and camt.054 debit notifications waiting at the provider."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYDAG_", "PREFECT_"))}
    env |= {
        "PAYDAG_CONFIG": str(REPO / "config" / "paydag.example.toml"),
        "PAYDAG_HOME": str(home / ".paydag"),
        "PAYDAG_DATABASE_URL": database_url,
        "PAYDAG_PAGERO_BASE_URL": sandbox_url,
        "PAYDAG_CLAIM_LEASE_SECONDS": str(LEASE),
        # a slow download (`slow_downloads`) is waited for, not timed out and retried at once: the
        # holder holds the claim until the test kills it
        "PAYDAG_PAGERO_TIMEOUT_SECONDS": "900",
        "PREFECT_API_URL": prefect_server_api,
    }
    for name, value in env.items():
        if name.startswith("PAYDAG_"):
            monkeypatch.setenv(name, value)
    settings = load_settings()
    company = settings.company("demo")
    register = resources.open_register(settings)
    channel = resources.open_channel(settings, company)
    rows = sample_payables(6, company="demo", first_day=date.today() + timedelta(days=2))
    profile = bank_profile(company.bank_profile)
    batch, _ = send.validated_batch(write_payables_csv(rows, home / "payables.csv"), company_id="demo",
                                    profile=profile, register=register, today=date.today())  # fmt: skip
    built = send.build_batch_file(batch, company_id="demo", company=company, profile=profile,
                                  register=register, workdir=home)  # fmt: skip
    raw = send.archive_file(built, company_id="demo", raw_store=resources.open_store(settings))
    send.register_built(register, built, raw, batch)
    send.deliver(built.msg_id, company=company, register=register, raw_store=resources.open_store(settings),
                 channel=channel, send_mode=SendMode.TEST, document_type="pain.001.001.03")  # fmt: skip
    channel.close()
    httpx.post(f"{sandbox_url}/_sandbox/advance", json={"seconds": 10 * 86400}).raise_for_status()
    try:
        yield Day(env, register, sandbox_url, home)
    finally:
        register.close()


def slow_downloads(day: Day, seconds: float = 600) -> None:
    """The provider takes its time over the first poll's four parallel downloads: it holds the claim
    until the test kills it (on a loaded machine a Prefect server's restart alone can take a minute)."""
    day.faults({"route": "download", "latency": seconds, "times": 4})


def downloads_waiting(day: Day) -> bool:
    """Whether some of the slow downloads `slow_downloads` set up have not begun yet."""
    return any(f["route"] == "download" for f in day.provider()["faults"])


def assert_taken_over_within_the_lease(day: Day, dead: Process, successor: Process, killed_at) -> None:
    [over] = [e for e in day.events() if e.action is ClaimAction.TAKEN_OVER]
    assert f"pid {successor.pid} on " in over.holder
    assert f"pid {dead.pid} on " in over.detail
    # within the lease, give or take the waiter's one-second retry and a loaded machine's delays
    assert over.at - killed_at <= timedelta(seconds=LEASE + 4)


def test_a_poll_killed_while_it_holds_the_claim_is_followed_within_the_lease(day: Day) -> None:
    slow_downloads(day)
    dead = day.poll("killed")
    wait_for("the first poll takes the claim", holds(day, dead), 90, dead)
    successor = day.poll("successor")
    wait_for("the second poll waits, naming the holder",
             lambda: "waiting since" in successor.stderr() and f"pid {dead.pid} on " in successor.stderr(),
             90, successor)  # fmt: skip
    dead.kill()  # as a power cut, an OOM kill or an evicted pod would
    killed_at = day.register.claims.now()
    day.faults()
    code, summary = successor.result(timeout=LEASE + 90)
    assert code == 0, successor.stderr()[-3000:]
    polled = summary["companies"]["demo"]
    assert polled["files"] == polled["acknowledged"] == len(day.provider()["documents"]) > 1
    assert_taken_over_within_the_lease(day, dead, successor, killed_at)
    assert "took over the poll claim of company demo from " in successor.stderr()
    day.assert_every_document_acknowledged_once()
    assert day.holder() is None  # the successor let go when it ended


def test_a_poll_killed_while_its_prefect_server_restarts_is_followed_within_the_lease(
    day: Day, tmp_path: Path
) -> None:
    """The claim does not live in the Prefect server: restarting the server the holder reported to
    takes nothing with it, and the holder's death still frees the claim within the lease."""
    from paydag.cli.demo.stack import Stack, free_port

    port = free_port()
    prefect = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PAYDAG_"))}
    prefect |= {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    api = {"PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    stack = Stack(tmp_path / "server")
    try:
        stack.prefect_server(port, prefect)
        slow_downloads(day)
        dead = day.poll("holder", **api)
        wait_for("the first poll takes the claim", holds(day, dead), 90, dead)
        # … and its slow downloads are under way: each took its provider slot from the server before
        # it goes down (a task starting while the server is away fails, and its poll lets go)
        wait_for("the first poll's downloads", lambda: not downloads_waiting(day), 90, dead)
        stack.stop()  # the server goes down while the poll holds the claim …
        stack.prefect_server(port, prefect)  # … and comes back on the same database
        assert holds(day, dead)()
        successor = day.poll("successor", **api)
        wait_for("the second poll waits", lambda: "waiting since" in successor.stderr(), 90, successor)
        dead.kill()
        killed_at = day.register.claims.now()
        day.faults()
        code, summary = successor.result(timeout=LEASE + 90)
        assert code == 0, successor.stderr()[-3000:]
        assert summary["companies"]["demo"]["acknowledged"] == len(day.provider()["documents"])
        assert_taken_over_within_the_lease(day, dead, successor, killed_at)
        day.assert_every_document_acknowledged_once()
    finally:
        stack.stop()


def test_two_polls_started_together_never_work_side_by_side(day: Day) -> None:
    # The first poll's four downloads take 15 s: the second, started beside it, finds the claim held.
    day.faults({"route": "download", "latency": 15, "times": 4})
    polls = [day.poll("first"), day.poll("second")]
    results = [p.result(timeout=180) for p in polls]
    # On a failure, each poll's JSON outcome too: a command's error is in it (stdout), not in its log.
    assert [code for code, _ in results] == [0, 0], [
        (s, p.stderr()[-2000:]) for (_, s), p in zip(results, polls, strict=True)
    ]
    files = sorted(s["companies"]["demo"]["files"] for _, s in results)
    assert files == [0, len(day.provider()["documents"])]  # the second found everything acknowledged
    events = [(e.action, e.holder) for e in day.events()]
    assert [a for a, _ in events] == [ClaimAction.TAKEN, ClaimAction.RELEASED] * 2
    assert events[0][1] == events[1][1] != events[2][1] == events[3][1]  # one holder, then the other
    waited = [p for p in polls if "waiting since" in p.stderr()]
    assert (
        len(waited) == 1
        and f"pid {polls[0].pid if waited[0] is polls[1] else polls[1].pid} on " in waited[0].stderr()
    )
    day.assert_every_document_acknowledged_once()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_waiting_poll_stops_within_seconds_holding_nothing(day: Day, stop: signal.Signals) -> None:
    other = day.register.claims.take("poll", "demo", "a poll on another worker", lease_seconds=600)
    waiting = day.poll("waiting")
    wait_for("the poll waits", lambda: "waiting since" in waiting.stderr(), 90, waiting)
    assert "held by a poll on another worker" in waiting.stderr()
    os.kill(waiting.pid, stop)  # as `timeout`, a worker's cancellation or an operator's Ctrl-C would
    started = time.monotonic()
    code = waiting.popen.wait(timeout=30)
    assert time.monotonic() - started < 10 and code != 0
    assert day.holder() == "a poll on another worker"  # the waiter never held the claim
    assert [e.holder for e in day.events()] == ["a poll on another worker"]
    assert day.provider()["acknowledgements"] == []
    day.register.claims.release("poll", "demo", other.token)


def test_a_poll_that_cannot_get_the_claim_exits_3_naming_holder_and_command(day: Day) -> None:
    day.register.claims.take("poll", "demo", "a poll on another worker", lease_seconds=600)
    code, summary = day.poll("busy", PAYDAG_CLAIM_WAIT_SECONDS="3").result(timeout=120)
    assert code == 3
    assert summary["status"] == "claim"
    assert "the poll claim of company demo is held by a poll on another worker" in summary["error"]
    assert "paydag unlock --company demo --what poll" in summary["error"]
    assert day.provider()["acknowledgements"] == []


def test_status_shows_a_stuck_claim_and_unlock_clears_it_after_asking(day: Day) -> None:
    day.register.claims.take("poll", "demo", "a stuck poll", lease_seconds=600)
    status = day.run("status")
    assert status.returncode == 0, status.stderr
    assert "demo poll claim: held by a stuck poll since " in status.stdout
    assert "demo send claim: free" in status.stdout
    [shown] = [c for c in json.loads(day.run("status", "--json").stdout)["claims"] if c["work"] == "poll"]
    assert shown["holder"] == "a stuck poll" and shown["expires_at"]

    declined = day.run("unlock", "--company", "demo", "--what", "poll", stdin="n\n")
    assert declined.returncode == 1 and "left as it is" in declined.stderr
    assert "the poll claim of demo is held by a stuck poll" in declined.stderr
    assert day.holder() == "a stuck poll"

    cleared = day.run("unlock", "--company", "demo", "--what", "poll", "--as", "ops anna", stdin="y\n")
    assert cleared.returncode == 0, cleared.stderr
    assert (
        "cleared the poll claim of demo (held by a stuck poll), recorded as done by ops anna"
        in cleared.stdout
    )
    assert day.holder() is None
    [event] = [e for e in day.events() if e.action is ClaimAction.CLEARED]
    assert (event.holder, event.by) == ("a stuck poll", "ops anna")
    assert "demo poll claim: free" in day.run("status").stdout

    again = day.run("unlock", "--company", "demo", "--what", "poll", "--yes")
    assert again.returncode == 0 and "is free: nothing to clear" in again.stdout
    day.register.claims.take("send", "demo", "a stuck send", lease_seconds=600)
    unasked = day.run("unlock", "--company", "demo", "--what", "send", "--yes", "--json")
    assert unasked.returncode == 0 and json.loads(unasked.stdout)["status"] == "cleared"
    assert day.register.claims.claim("send", "demo").holder is None

"""A worker killed with SIGKILL while its poll runs, as production meets it: a Prefect server on
PostgreSQL, the deployments, a process worker, the register on PostgreSQL. The dead run stops sending
heartbeats; the zombie automation (deployments/automations/crash-zombie-flow-runs.yaml, its window
shortened for the test) marks it Crashed; a new run of the deployment finishes the day: every file
stored once, applied once, acknowledged once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

from paydag import resources, send
from paydag.cli.demo.stack import PREFECT
from paydag.formats.bank_profiles import bank_profile
from paydag.providers.channel import SendMode
from paydag.samples import sample_payables, write_payables_csv
from paydag.settings import load_settings
from tests.conftest import REPO, fresh_database
from tests.e2e import test_production_shape
from tests.e2e.test_production_shape import prefect

prefect_server = test_production_shape.prefect_server  # the fixture: a Prefect server on PostgreSQL
HEARTBEAT = 30  # seconds: the least Prefect allows
WITHIN = HEARTBEAT + 10  # the automation's window: a run silent this long is Crashed


@pytest.fixture
def register_url(postgres_server_url: str) -> Iterator[str]:
    """The register's own database beside Prefect's."""
    with fresh_database(postgres_server_url, "paydag_register") as url:
        yield url


def flow_runs(api: str) -> list[dict]:
    return httpx.post(f"{api}/flow_runs/filter", json={"sort": "START_TIME_ASC", "limit": 20}).json()


def wait(what: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {timeout} s")
        time.sleep(0.5)


def test_a_worker_killed_during_a_poll(
    prefect_server: dict[str, str], register_url: str, sandbox_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    api = prefect_server["PREFECT_API_URL"]
    env = prefect_server | {"PAYDAG_CHECKOUT": str(REPO)}
    worker_env = env | {
        "PAYDAG_HOME": str(tmp_path / "paydag"), "PAYDAG_CONFIG": str(REPO / "config" / "paydag.example.toml"),
        "PAYDAG_DATABASE_URL": register_url, "PAYDAG_PAGERO_BASE_URL": sandbox_url,
        "PAYDAG_CLAIM_LEASE_SECONDS": "6", "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT),
    }  # fmt: skip
    for name, value in worker_env.items():
        if name.startswith("PAYDAG_"):
            monkeypatch.setenv(name, value)

    # The day: a batch sent, the bank's clock moved past it (a pain.002 and debit notifications waiting).
    settings = load_settings()
    company, register = settings.company("demo"), resources.open_register(settings)
    channel, store = resources.open_channel(settings, company), resources.open_store(settings)
    profile = bank_profile(company.bank_profile)
    rows = sample_payables(6, company="demo", first_day=date.today() + timedelta(days=2))
    batch, _ = send.validated_batch(write_payables_csv(rows, tmp_path / "payables.csv"), company_id="demo",
                                    profile=profile, register=register, today=date.today())  # fmt: skip
    built = send.build_batch_file(batch, company_id="demo", company=company, profile=profile, register=register,
                                  workdir=tmp_path)  # fmt: skip
    send.register_built(register, built, send.archive_file(built, company_id="demo", raw_store=store), batch)
    send.deliver(built.msg_id, company=company, register=register, raw_store=store, channel=channel,
                 send_mode=SendMode.TEST, document_type="pain.001.001.03")  # fmt: skip
    channel.close()
    httpx.post(f"{sandbox_url}/_sandbox/advance", json={"seconds": 10 * 86400}).raise_for_status()

    prefect(env, "work-pool", "create", "paydag", "--type", "process")
    prefect(
        env,
        "--no-prompt",
        "deploy",
        "--name",
        "poll-return-files",
        "--prefect-file",
        "deployments/prefect.yaml",
    )
    automation = yaml.safe_load(
        (REPO / "deployments" / "automations" / "crash-zombie-flow-runs.yaml").read_text()
    )
    automation["trigger"]["within"] = WITHIN
    automation_file = tmp_path / "zombies.yaml"
    automation_file.write_text(yaml.safe_dump(automation))
    prefect(env, "automation", "create", "--from-file", str(automation_file))

    # The provider is slow over the first poll's downloads: the worker dies while they wait.
    httpx.post(
        f"{sandbox_url}/_sandbox/faults", json=[{"route": "download", "latency": 120, "times": 4}]
    ).raise_for_status()
    prefect(env, "deployment", "run", "poll-return-files/poll-return-files", "-p", "company=demo")
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen([str(PREFECT), "worker", "start", "--pool", "paydag"], env=worker_env, cwd=REPO,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        wait(
            "the poll waiting on its downloads",
            lambda: not httpx.get(f"{sandbox_url}/_sandbox/state").json()["faults"],
            120,
        )
        [first] = flow_runs(api)
        assert first["state_type"] == "RUNNING"
        for child in psutil.Process(worker.pid).children(recursive=True):
            child.kill()  # the flow run's process
        os.killpg(worker.pid, signal.SIGKILL)  # and the worker: the host is gone
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        log.close()
    state = httpx.get(f"{sandbox_url}/_sandbox/state").json()
    assert state["acknowledgements"] == []  # nothing acknowledged: nothing was durable

    wait("the zombie automation marking the run Crashed",
         lambda: httpx.get(f"{api}/flow_runs/{first['id']}").json()["state_type"] == "CRASHED", WITHIN + HEARTBEAT + 60)  # fmt: skip
    crashed = httpx.get(f"{api}/flow_runs/{first['id']}").json()
    assert "heartbeat" in (crashed["state"]["message"] or "").lower()

    prefect(env, "deployment", "run", "poll-return-files/poll-return-files", "-p", "company=demo")
    prefect(worker_env, "worker", "start", "--pool", "paydag", "--run-once", timeout=300)
    second = [r for r in flow_runs(api) if r["id"] != first["id"]]
    assert [r["state_type"] for r in second] == ["COMPLETED"]

    state = httpx.get(f"{sandbox_url}/_sandbox/state").json()
    acknowledged = Counter(a["id"] for a in state["acknowledgements"])
    assert set(acknowledged) == {d["id"] for d in state["documents"]} and set(acknowledged.values()) == {1}
    assert len(list(store.list("incoming/demo/"))) == len(state["documents"])  # each file stored once
    states = {p.payment_id: p.state.value for p in register.payments()}
    register.close()
    # the bank's clock is past every execution date: each payment's booking came, and was applied once
    # (ACCEPTED here was the lost update of a status report and a booking applied at once, since mended)
    assert states == dict.fromkeys(states, "BOOKED") and len(states) == 6

"""The Prefect server as paydag runs it (paydag.cli.runtime.PREFECT_SERVER_SETTINGS) frees a provider tag slot
whose task died with its process, even when the server was restarted in between: its concurrency
leases are kept in files, not in the memory of the server that granted them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from paydag.cli.demo.stack import PREFECT, Stack, free_port
from paydag.cli.runtime import PREFECT_SERVER_SETTINGS

HOLDER = textwrap.dedent(
    """
    import time
    from prefect import flow, task

    @task(tags=["pagero-api"])
    def call_the_provider():
        print("holding the slot", flush=True)
        time.sleep(600)

    @flow
    def poll():
        call_the_provider()

    poll()
    """
)


def active_slots(api: str) -> dict[str, int]:
    limits = httpx.post(f"{api}/v2/concurrency_limits/filter", json={}, timeout=10).json()
    return {limit["name"]: limit["active_slots"] for limit in limits}


def test_a_tag_slot_held_by_a_killed_task_is_freed_after_a_server_restart(tmp_path: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PAYDAG_"))}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), **PREFECT_SERVER_SETTINGS}
    stack = Stack(tmp_path)
    try:
        stack.prefect_server(port, env)
        subprocess.run([str(PREFECT), "concurrency-limit", "create", "pagero-api", "1"],
                       env=env | {"PREFECT_API_URL": api}, check=True, capture_output=True, timeout=120)  # fmt: skip
        log = tmp_path / "holder.log"
        with log.open("wb") as out:
            holder = subprocess.Popen([sys.executable, "-c", HOLDER], env=env | {"PREFECT_API_URL": api},
                                      stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while b"holding the slot" not in log.read_bytes():
            assert holder.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        assert active_slots(api) == {"tag:pagero-api": 1}
        os.killpg(holder.pid, signal.SIGKILL)  # the worker dies with the slot …
        holder.wait(timeout=10)
        stack.stop()  # … and the server restarts before the lease runs out
        stack.prefect_server(port, env)
        deadline = time.monotonic() + 180  # the task's lease (60 s) plus the server's sweep (15 s)
        while active_slots(api) != {"tag:pagero-api": 0}:
            assert time.monotonic() < deadline, f"the slot is still taken: {active_slots(api)}"
            time.sleep(2)
    finally:
        stack.stop()

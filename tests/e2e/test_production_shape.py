"""The way production runs it: a Prefect server on PostgreSQL (its own database), the deployments from
deployments/prefect.yaml, a process worker on the `paydag` pool picking up a run started with
`prefect deployment run`, and the run's artifacts read back through the API."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from paydag.cli.demo.stack import PREFECT, Stack, free_port
from tests.conftest import REPO


@pytest.fixture
def prefect_server(postgres_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    database = (
        make_url(postgres_url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PAYDAG_"))}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": database,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    stack = Stack(tmp_path)
    try:
        url = stack.prefect_server(free_port(), env)
        yield env | {"PREFECT_API_URL": f"{url}/api"}
    finally:
        stack.stop()


def prefect(env: dict[str, str], *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(PREFECT), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"prefect {' '.join(args)}: {result.stdout[-1500:]} {result.stderr[-1500:]}"
    )
    return result


def test_a_deployment_run_picked_up_by_a_worker(
    prefect_server: dict[str, str], sandbox_url: str, tmp_path: Path
) -> None:
    env = prefect_server | {"PAYDAG_CHECKOUT": str(REPO)}
    prefect(env, "work-pool", "create", "paydag", "--type", "process")
    deployed = prefect(env, "--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
    assert "poll-return-files/poll-return-files" in deployed.stdout

    run = prefect(env, "deployment", "run", "poll-return-files/poll-return-files", "-p", "company=demo")
    assert "poll-return-files" in run.stdout
    worker_env = env | {
        "PAYDAG_HOME": str(tmp_path / "paydag"),
        "PAYDAG_CONFIG": str(REPO / "config" / "paydag.example.toml"),
        "PAYDAG_PAGERO_BASE_URL": sandbox_url,
    }
    prefect(worker_env, "worker", "start", "--pool", "paydag", "--run-once", timeout=300)

    api = env["PREFECT_API_URL"]
    runs = httpx.post(f"{api}/flow_runs/filter", json={"limit": 10}).json()
    [poll_run] = [r for r in runs if r["name"].startswith("poll")]
    assert poll_run["state_type"] == "COMPLETED"
    artifacts = httpx.post(
        f"{api}/artifacts/filter", json={"flow_runs": {"id": {"any_": [poll_run["id"]]}}, "limit": 50}
    ).json()
    assert {a["key"] for a in artifacts} >= {
        "poll-demo-files",
        "poll-demo-rejected",
        "awaiting-return-report-demo",
    }
    listed = prefect(env, "artifact", "ls")  # the CLI reads through the same API
    assert "poll-demo-files" in listed.stdout

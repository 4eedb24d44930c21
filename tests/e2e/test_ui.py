"""The Prefect UI as finance people see it, in a real browser: a Prefect server, a settlement ingest run
by `paydag ingest` against it, and the run opened in headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright; no browser is downloaded). The run must read Completed and its artifact table
must show the expectations. A screenshot of each page is kept in .artifacts/ui/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from paydag.cli.demo.stack import Stack, free_port
from tests.conftest import REPO, SETTLEMENT_V2
from tests.paydag.cli.test_commands import paydag

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Offline machine: without the background-networking flags Chromium keeps dialling Google's hosts.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
SCREENSHOTS = REPO / ".artifacts" / "ui"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="no Chromium at /usr/bin/chromium: apt-get install chromium (.ci/run does)",
)


@contextmanager
def run_page(prefect_ui: str, run_id: str) -> Iterator[Any]:
    """A flow run's page in headless Chromium."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{prefect_ui}/runs/flow-run/{run_id}")
            yield page
        finally:
            browser.close()


@pytest.fixture
def prefect_ui(tmp_path: Path) -> Iterator[str]:
    stack = Stack(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    try:
        yield stack.prefect_server(free_port(), env)
    finally:
        stack.stop()


def test_a_flow_run_and_its_artifact_table_in_the_ui(prefect_ui: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    ran = paydag("ingest", str(SETTLEMENT_V2), cwd=tmp_path, PREFECT_API_URL=f"{prefect_ui}/api")
    assert ran.returncode == 0, ran.stderr[-2000:]
    [run] = httpx.post(f"{prefect_ui}/api/flow_runs/filter", json={"limit": 5}).json()
    with run_page(prefect_ui, run["id"]) as page:
        expect(page.get_by_text(run["name"]).first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Completed", exact=True).first).to_be_visible()

        page.get_by_text("Artifacts", exact=True).first.click()
        card = page.get_by_text("settlement-validation-r9002-0001").first
        expect(card).to_be_visible()
        page.screenshot(path=SCREENSHOTS / "flow-run.png", full_page=True)

        card.click()  # the artifact's own page renders the table
        table = page.locator("table").first
        expect(table).to_be_visible(timeout=30_000)
        expect(table).to_contain_text("expectation")
        expect(table).to_contain_text("expect_column_values_to_be_unique")
        expect(table).to_contain_text("transaction_no")
        page.screenshot(path=SCREENSHOTS / "artifact-table.png", full_page=True)
    assert (SCREENSHOTS / "artifact-table.png").stat().st_size > 10_000


def test_a_batch_waiting_for_approval_is_approved_through_the_runs_form(
    prefect_ui: str, sandbox_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from paydag.samples import sample_payables, write_payables_csv

    rows = sample_payables(3, company="demo", first_day=date.today() + timedelta(days=3))
    payables = write_payables_csv(rows, tmp_path / "payables.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAYDAG_", "PREFECT_"))}
    env |= {"PREFECT_API_URL": f"{prefect_ui}/api", "PAYDAG_HOME": str(tmp_path / "home"),
            "PAYDAG_CONFIG": str(REPO / "config" / "paydag.example.toml"), "PAYDAG_PAGERO_BASE_URL": sandbox_url,
            "PAYDAG_COMPANIES__DEMO__APPROVERS": '["anna", "bertil"]',
            "PAYDAG_COMPANIES__DEMO__APPROVAL_THRESHOLD": "0", "PAYDAG_APPROVAL_POLL_SECONDS": "1"}  # fmt: skip
    code = ("from flows.send_payments import send_payment_file; import json; print(json.dumps(send_payment_file("
            f"payables={str(payables)!r}, company='demo', send_mode='Test', requested_by='anna')))")  # fmt: skip
    # The run as a worker would run it: a process of its own, paused while it waits.
    flow = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        run = _paused_run(prefect_ui)
        with run_page(prefect_ui, run["id"]) as page:
            expect(page.get_by_text("Paused", exact=True).first).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Resume").first.click()
            form = page.get_by_role("dialog")
            expect(form.get_by_text("Approver", exact=True)).to_be_visible(timeout=15_000)
            approver, comment = form.locator("textarea").nth(0), form.locator("textarea").nth(1)
            approver.fill("bertil")
            switch = form.locator("input[type=checkbox]").first  # "Approve": a switch over a hidden box
            switch.locator("xpath=..").click()
            expect(switch).to_be_checked()
            comment.fill("approved in the UI")
            page.screenshot(path=SCREENSHOTS / "approval-form.png", full_page=True)
            form.get_by_role("button", name="Submit").click()
            out, _ = flow.communicate(timeout=120)
    finally:
        if flow.poll() is None:
            flow.kill()
    assert flow.returncode == 0, out[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "sent" and result["uploaded"] is True
    files = httpx.get(f"{sandbox_url}/_sandbox/state").json()["files"]
    assert [f["senderReference"] for f in files] == [result["msg_id"]]


def _paused_run(prefect_ui: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = httpx.post(f"{prefect_ui}/api/flow_runs/filter", json={"limit": 5}).json()
        if runs and runs[0]["state_type"] == "PAUSED":
            time.sleep(1)  # the form's schema is saved right after the state
            return runs[0]
        time.sleep(0.5)
    raise AssertionError("the send never paused for approval")

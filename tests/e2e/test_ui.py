"""The Prefect UI as finance people see it, in a real browser: a Prefect server, a settlement ingest run
by `paydag ingest` against it, and the run opened in headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright; no browser is downloaded). The run must read Completed and its artifact table
must show the expectations. A screenshot of each page is kept in .artifacts/ui/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

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
    from playwright.sync_api import expect, sync_playwright

    ran = paydag("ingest", str(SETTLEMENT_V2), cwd=tmp_path, PREFECT_API_URL=f"{prefect_ui}/api")
    assert ran.returncode == 0, ran.stderr[-2000:]
    [run] = httpx.post(f"{prefect_ui}/api/flow_runs/filter", json={"limit": 5}).json()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{prefect_ui}/runs/flow-run/{run['id']}")
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
        finally:
            browser.close()
    assert (SCREENSHOTS / "artifact-table.png").stat().st_size > 10_000

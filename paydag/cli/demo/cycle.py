"""The demo's day on a running installation: the deployments set up, then the flow runs started as
operations would (run_deployment) or by the deployments' triggers, each awaited to its end."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from paydag.cli.demo.day import DemoDay, close_the_day
from paydag.cli.demo.stack import DEMO_APPROVER, DEMO_REQUESTER, REPO, DemoError, wait_until

PROVIDER_TAGS = ("pagero-api", "payex-api", "autogiro-api")  # the tags of the tasks that call a provider


def progress(line: str) -> None:
    """What the demo is doing now, on stderr (stdout carries the summary or the --json document)."""
    print(line, file=sys.stderr, flush=True)


class DemoCycle:
    """One demo day against the Prefect API at `ui`; `finished` lists the flow runs awaited."""

    def __init__(self, client: Any, ui: str, timeout: float) -> None:
        self.client, self.ui, self.timeout = client, ui, timeout
        self.finished: list[Any] = []

    def prepare(self) -> None:
        """Only the demo's runs (no schedule fires meanwhile); provider tag limits; the zombie automation."""
        import yaml
        from prefect.events.schemas.automations import AutomationCore

        for deployment in self.client.read_deployments():
            for schedule in deployment.schedules:
                self.client.update_deployment_schedule(deployment.id, schedule.id, active=False)
        for tag in PROVIDER_TAGS:  # provider calls: at most 4 at a time per provider, across all runs
            self.client.create_concurrency_limit(tag=tag, concurrency_limit=4)
        if not self.client.read_automations_by_name("crash-zombie-flow-runs"):
            spec = yaml.safe_load((REPO / "deployments/automations/crash-zombie-flow-runs.yaml").read_text())
            self.client.create_automation(AutomationCore.model_validate(spec))

    def wait(self, run_id: Any, step: str) -> Any:
        """The flow run once it is final; DemoError unless it completed."""
        holder: dict[str, Any] = {}

        def done() -> bool:
            holder["run"] = self.client.read_flow_run(run_id)
            return holder["run"].state is not None and holder["run"].state.is_final()

        wait_until(done, step=step, timeout=self.timeout)
        run = holder["run"]
        if not run.state.is_completed():
            raise DemoError(f"{step}: flow run {run.name} ended {run.state.name}: {run.state.message} "
                            f"({self.ui}/runs/flow-run/{run.id})")  # fmt: skip
        self.finished.append(run)
        return run

    def triggered(self, deployment: str, since: datetime, step: str) -> Any:
        """The run a deployment's trigger started after `since`, once it has finished."""
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

        found: dict[str, Any] = {}

        def started() -> bool:
            named = DeploymentFilter(name=DeploymentFilterName(any_=[deployment]))
            new = [
                r
                for r in self.client.read_flow_runs(deployment_filter=named)
                if r.created and r.created >= since
            ]
            if new:
                found["run"] = min(new, key=lambda r: r.created)
            return bool(new)

        wait_until(started, step=f"{step} (waiting for the trigger)", timeout=self.timeout)
        return self.wait(found["run"].id, step)

    def settlement_stored(self, run_id: Any) -> bool:
        """Whether a poll run stored a settlement report (its paydag.file.stored event says so)."""
        from tasks.events import FILE_STORED, KIND_LABEL

        body = {
            "filter": {"event": {"name": [FILE_STORED]}, "related": {"id": [f"prefect.flow-run.{run_id}"]}}
        }
        found = self.client.request("POST", "/events/filter", json=body).json()["events"]
        return any(e["resource"].get(KIND_LABEL) == "settlement" for e in found)

    def run_day(self, sandbox_url: str, day: DemoDay, payables: Path) -> None:
        """Send and sync; the bank's day; poll, whose settlement report triggers ingest, then reconcile."""
        from prefect.deployments import run_deployment

        progress("sending the day's supplier payments; syncing PayEx credit accounts ...")
        sync = run_deployment("sync-credit-accounts/sync-credit-accounts", timeout=0, as_subflow=False)
        send = run_deployment("send-payment-file/send-payment-file", as_subflow=False, timeout=0,
                              parameters={"payables": str(payables), "company": "demo", "send_mode": "Test",
                                          "requested_by": DEMO_REQUESTER})  # fmt: skip
        self.approve_when_asked(send.id)
        self.wait(send.id, "sending the payment file")
        self.wait(sync.id, "syncing the credit accounts")
        progress("the bank's day: bookings, incoming rent, Swedbank Pay's settlement ...")
        closed = close_the_day(sandbox_url, day)
        progress(
            "polling return files (the settlement report triggers its ingest, then its reconciliation) ..."
        )
        poll = run_deployment("poll-return-files/poll-return-files", parameters={"company": "demo"},
                              as_subflow=False, timeout=0)  # fmt: skip
        poll_run = self.wait(poll.id, "polling return files")
        if closed["document_id"] or self.settlement_stored(poll_run.id):  # else settled by an earlier demo
            ingest = self.triggered(
                "ingest-settlement-report", poll_run.created, "ingesting the settlement report"
            )
            self.triggered("reconcile-settlement", ingest.created, "reconciling the settlement report")

    def approve_when_asked(self, run_id: Any) -> None:
        """The send pauses for approval (the demo company wants it): give it, as an approver would in
        the run's Resume form. A batch approved and sent by an earlier demo does not ask again."""
        from prefect.flow_runs import resume_flow_run

        def asked_or_done() -> bool:
            state = self.client.read_flow_run(run_id).state
            return state is not None and (state.is_paused() or state.is_final())

        wait_until(
            asked_or_done, step="sending the payment file (waiting for its approval)", timeout=self.timeout
        )
        if self.client.read_flow_run(run_id).state.is_paused():
            progress(
                f"the batch waits for approval; approving it as {DEMO_APPROVER} (the run's Resume form) ..."
            )
            wait_until(lambda: _form_saved(self.client, run_id), step="the approval form", timeout=60)
            resume_flow_run(run_id, run_input={"approver": DEMO_APPROVER, "approve": True,
                                               "comment": "the day's supplier invoices, checked"})  # fmt: skip

    def runs(self) -> dict[str, Any]:
        return {"all": [{"name": r.name, "deployment": str(r.deployment_id), "state": r.state.name,
                         "url": f"{self.ui}/runs/flow-run/{r.id}"} for r in self.finished]}  # fmt: skip


def _form_saved(client: Any, run_id: Any) -> bool:
    """Whether a paused run has saved the schema of the input it waits for (right after it paused)."""
    keyset = client.read_flow_run(run_id).state.state_details.run_input_keyset
    try:
        return keyset is not None and client.read_flow_run_input(run_id, keyset["schema"]) is not None
    except Exception:
        return False


def run_cycle(ui: str, sandbox_url: str, day: DemoDay, payables: Path, timeout: float) -> dict[str, Any]:
    """The day's flow runs on the installation whose UI is at `ui`."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: f"{ui}/api"}), get_client(sync_client=True) as client:
        cycle = DemoCycle(client, ui, timeout)
        cycle.prepare()
        cycle.run_day(sandbox_url, day, payables)
    return cycle.runs()

"""Every deployment in deployments/prefect.yaml loads, names its flow, and has parameters the flow accepts:
a broken deployment cannot land."""

from __future__ import annotations

import copy

import pytest
import yaml
from prefect.cli.deploy._triggers import DeploymentTriggerAdapter
from prefect.events.schemas.automations import AutomationCore
from prefect.flows import load_flow_from_entrypoint

from tasks import events
from tests.conftest import REPO

SPEC = yaml.safe_load((REPO / "deployments" / "prefect.yaml").read_text())
DEPLOYMENTS = SPEC["deployments"]


def test_one_deployment_per_flow() -> None:
    entrypoints = sorted(d["entrypoint"].split(":")[0] for d in DEPLOYMENTS)
    flows = sorted(f"flows/{p.name}" for p in (REPO / "flows").glob("*.py") if p.name != "__init__.py")
    assert entrypoints == flows


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_deployment_loads_with_valid_parameters(deployment: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    assert flow.name == deployment["name"]
    assert deployment["work_pool"]["name"] == "paydag"
    schema = flow.parameters.model_dump()
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{flow.name}: parameter {name} has no description for the UI form"
    for schedule in deployment.get("schedules", []):
        assert schedule["timezone"] == "Europe/Stockholm" and schedule["slug"] and "active" in schedule
        merged = {**deployment.get("parameters", {}), **schedule.get("parameters", {})}
        flow.validate_parameters(merged)  # raises when a parameter is unknown, missing or of the wrong type
        assert set(schema.get("required", [])) <= set(merged), (
            f"{flow.name}/{schedule['slug']} lacks a required parameter"
        )


def _render(parameters: dict[str, object], payload: dict[str, object]) -> dict[str, object]:
    """The parameters as the server renders them when the trigger fires: the RunDeployment action's own
    template upgrade and hydration, with the event's payload in the Jinja context."""
    from prefect.server.events.actions import RunDeployment
    from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate

    upgraded = copy.deepcopy(parameters)
    RunDeployment._upgrade_v1_templates(upgraded)
    context = {"event": {"payload": payload}}
    return hydrate(upgraded, HydrationContext(raise_on_error=True, render_jinja=True, jinja_context=context))


EXAMPLE_PAYLOADS = {  # what tasks/events.py puts in each event
    events.FILE_STORED: {
        "kind": "settlement", "company": "demo", "raw_key": "incoming/demo/2026/11/20/ab-tl.xml",
        "name": "tl.xml", "state": "HANDED_OVER",
    },
    events.SETTLEMENT_CURATED: {
        "accounting_no": "123456", "company": "demo", "rows": "5", "raw_key": "incoming/demo/x.xml",
    },
}  # fmt: skip

TRIGGERED = [(d, t) for d in DEPLOYMENTS for t in d.get("triggers", [])]


def test_the_flows_are_chained_by_triggers() -> None:
    chain = {(d["name"], tuple(t["expect"])) for d, t in TRIGGERED}
    assert chain == {
        ("ingest-settlement-report", (events.FILE_STORED,)),
        ("reconcile-settlement", (events.SETTLEMENT_CURATED,)),
    }


@pytest.mark.parametrize(("deployment", "trigger"), TRIGGERED, ids=[t["name"] for _, t in TRIGGERED])
def test_trigger_is_valid_and_renders_parameters_the_flow_accepts(
    deployment: dict, trigger: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    DeploymentTriggerAdapter.validate_python(dict(trigger))  # as `prefect deploy` reads it
    [expected] = trigger["expect"]
    payload = EXAMPLE_PAYLOADS[expected]
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    rendered = _render(trigger["parameters"], payload)
    flow.validate_parameters({**deployment.get("parameters", {}), **rendered})
    assert set(flow.parameters.model_dump().get("required", [])) <= set(rendered) | set(
        deployment.get("parameters", {})
    )
    assert rendered == RENDERED[trigger["name"]]


RENDERED = {  # what each trigger hands its flow for the example payloads above
    "ingest-settlement-file-on-arrival": {"raw_key": "incoming/demo/2026/11/20/ab-tl.xml", "company": "demo"},
    "reconcile-when-ingested": {"accounting_nos": ["123456"]},
}


def test_the_ingest_trigger_matches_settlement_files_only() -> None:
    [trigger] = next(d for d in DEPLOYMENTS if d["name"] == "ingest-settlement-report")["triggers"]
    assert trigger["match"][events.KIND_LABEL] == "settlement"
    assert trigger["match"]["prefect.resource.id"] == "paydag.raw.*"


def test_zombie_automation_is_a_valid_automation() -> None:
    spec = yaml.safe_load((REPO / "deployments" / "automations" / "crash-zombie-flow-runs.yaml").read_text())
    automation = AutomationCore.model_validate(spec)
    assert automation.trigger.posture == "Proactive"
    assert automation.actions[0].type == "change-flow-run-state"

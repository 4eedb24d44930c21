"""Every deployment in deployments/prefect.yaml loads, names its flow, and has parameters the flow accepts:
a broken deployment cannot land."""

from __future__ import annotations

import pytest
import yaml
from prefect.flows import load_flow_from_entrypoint

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

"""The events that chain the flows: a poll that stores a settlement report announces it, the ingest the
trigger would start (with the parameters it renders) takes the kept file, and announces the curated
report the reconciliation trigger reads. The server-side triggering itself: tests/e2e."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.states import State

from flows.ingest_settlement import ingest_settlement_report
from flows.poll_returns import poll_return_files
from flows.reconcile_settlement import reconcile_settlement
from paydag.formats.settlement import parse_settlement
from tasks import events
from tests.conftest import SETTLEMENT_V2


def deliver(sandbox_url: str, report: bytes, name: str = "TL-R9002-0001.xml") -> None:
    """A settlement report in the company's Pagero inbox, as Swedbank Pay delivers it."""
    httpx.post(
        f"{sandbox_url}/_sandbox/documents",
        json={"company_id": "demo-0001", "document_type": "settlement", "name": name,
              "content_base64": base64.b64encode(report).decode()},
    ).raise_for_status()  # fmt: skip


def emitted(run: State, name: str, count: int = 1) -> list[dict]:
    """The events `name` of one flow run, read back from the Prefect API (they arrive asynchronously)."""
    body = {
        "filter": {
            "event": {"name": [name]},
            "related": {"id": [f"prefect.flow-run.{run.state_details.flow_run_id}"]},
        }
    }
    with get_client(sync_client=True) as client:
        for _ in range(60):
            found = client.request("POST", "/events/filter", json=body).json()["events"]
            if len(found) >= count:
                return found
            time.sleep(0.25)
    return found


def test_poll_ingest_reconcile_are_chained_by_events(
    sandbox_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYDAG_PAGERO_BASE_URL", sandbox_url)
    report = SETTLEMENT_V2.read_bytes()
    deliver(sandbox_url, report)

    poll_run = poll_return_files(company="demo", return_state=True)
    polled = poll_run.result()
    assert polled["demo"]["files"] == 1 and polled["demo"]["quarantined"] == []
    [stored] = emitted(poll_run, events.FILE_STORED)
    assert stored["resource"][events.KIND_LABEL] == "settlement"
    payload = stored["payload"]
    assert stored["resource"]["prefect.resource.id"] == f"paydag.raw.{payload['raw_key']}"
    assert payload["company"] == "demo" and payload["state"] == "HANDED_OVER"

    # What the ingest trigger starts: raw_key and company from the event.
    ingest_run = ingest_settlement_report(
        raw_key=payload["raw_key"], company=payload["company"], return_state=True
    )
    ingested = ingest_run.result()
    assert ingested["state"] == "CURATED" and ingested["raw_key"] == payload["raw_key"]
    [curated] = emitted(ingest_run, events.SETTLEMENT_CURATED)
    assert curated["payload"]["accounting_no"] == "R9002-0001"
    assert curated["payload"]["rows"] == ingested["rows"]

    # What the reconciliation trigger starts: that report, the captures export from the configuration.
    rows = parse_settlement(report).rows
    export = pd.DataFrame(
        {"number": rows["transaction_no"], "payeeReference": rows["order_id"],
         "type": ["Reversal" if a < 0 else "Capture" for a in rows["amount_minor"]],
         "amount": rows["amount_minor"].abs(), "created": "2022-11-24T12:00:00Z"}
    )  # fmt: skip
    export.to_csv(tmp_path / "captures.csv", index=False)
    monkeypatch.setenv("PAYDAG_CAPTURES_EXPORT", str(tmp_path / "captures.csv"))
    result = reconcile_settlement(accounting_nos=[curated["payload"]["accounting_no"]], as_of="2022-12-02")
    assert result["counts"] == {"matched": len(rows) - 1, "reversal linked": 1}  # the Swish credit

    # A second ingest of the same key is a no-op that announces the report again (at-least-once).
    again = ingest_settlement_report(raw_key=payload["raw_key"], company="demo", return_state=True)
    assert again.result()["state"] == "ALREADY"
    assert emitted(again, events.SETTLEMENT_CURATED)[0]["payload"]["accounting_no"] == "R9002-0001"


def test_reconcile_without_a_captures_export_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYDAG_CAPTURES_EXPORT", raising=False)
    with pytest.raises(ValueError, match="PAYDAG_CAPTURES_EXPORT"):
        reconcile_settlement(accounting_nos=["R1"])


def test_a_kept_report_whose_event_was_lost_is_ingested_by_the_scheduled_run(
    sandbox_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYDAG_PAGERO_BASE_URL", sandbox_url)
    deliver(sandbox_url, SETTLEMENT_V2.read_bytes())
    poll_return_files(company="demo")  # the report kept and handed over; no ingest runs here

    morning = ingest_settlement_report()  # the schedule: no source, no raw_key
    [(raw_key, outcome)] = morning["reports"].items()
    assert raw_key.startswith("incoming/demo/") and outcome["state"] == "CURATED"
    assert outcome["accounting_no"] == "R9002-0001"
    assert ingest_settlement_report() == {"reports": {}}  # taken once


def test_a_second_copy_of_a_curated_report_is_closed_not_taken_every_morning(
    sandbox_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYDAG_PAGERO_BASE_URL", sandbox_url)
    report = SETTLEMENT_V2
    assert ingest_settlement_report(source=str(report))["state"] == "CURATED"
    deliver(sandbox_url, report.read_bytes() + b"\n")  # the same AccountingNo, other bytes, through Pagero
    poll_return_files(company="demo")

    [(_, outcome)] = ingest_settlement_report()["reports"].items()
    assert outcome["state"] == "ALREADY"
    assert ingest_settlement_report() == {"reports": {}}  # the copy is closed, not taken again

"""send → sandbox bank → poll, under Prefect over HTTP: every payment ends in the right state, every
file is fetched once, and crashes and provider faults lose nothing and apply nothing twice."""

from __future__ import annotations

import base64
import json
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

import paydag.poll
import tasks.poll
import tasks.send
from flows.poll_returns import poll_return_files
from flows.send_payments import send_payment_file
from paydag import resources
from paydag.providers.channel import SendMode
from paydag.register import ClaimBusy, Register
from paydag.samples import sample_payables, write_payables_csv
from paydag.settings import load_settings
from paydag.storage import LocalRawStore
from tests.flows.test_send_payments import Crash, crash_once

BLOCKED_PLUSGIRO = "123455"  # the sample plusgiro supplier: the sandbox bank refuses it (AC01)


@pytest.fixture
def cycle(tmp_path: Path, sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A batch of 8 sent to the sandbox bank, which refuses one creditor and has two invoices paid."""
    monkeypatch.setenv("PAYDAG_PAGERO_BASE_URL", sandbox_url)
    for t in (tasks.send.archive_file, tasks.send.register_built, tasks.send.deliver_file, tasks.send.follow_status,
              tasks.poll.list_documents, tasks.poll.receive_document, tasks.poll.acknowledge):  # fmt: skip
        monkeypatch.setattr(t, "retry_delay_seconds", [0] * 5)
    first_day = date.today() + timedelta(days=2)
    httpx.post(
        f"{sandbox_url}/_sandbox/bank",
        json={
            "blocked_accounts": [BLOCKED_PLUSGIRO],
            "invoices": [
                {
                    "company_id": "demo-0001",
                    "ocr": "1000000004",
                    "amount": "8450.00",
                    "payer_name": "Hyresgäst A",
                    "paid_on": first_day.isoformat(),
                },
                {
                    "company_id": "demo-0001",
                    "ocr": "1000000012",
                    "amount": "9100.00",
                    "payer_name": "Hyresgäst B",
                    "paid_on": first_day.isoformat(),
                },
            ],
        },
    ).raise_for_status()
    payables = write_payables_csv(
        sample_payables(8, company="demo", first_day=first_day), tmp_path / "payables.csv"
    )
    sent = send_payment_file(payables=str(payables), company="demo", send_mode="Test")
    return {"sent": sent, "url": sandbox_url}


def advance(url: str, days: int) -> None:
    httpx.post(f"{url}/_sandbox/advance", json={"seconds": days * 86400}).raise_for_status()


def register() -> Register:
    return resources.open_register(load_settings())


def states() -> dict[str, str]:
    reg = register()
    try:
        return {p.payment_id: p.state.value for p in reg.payments()}
    finally:
        reg.close()


def sandbox_state(url: str) -> dict:
    return httpx.get(f"{url}/_sandbox/state").json()


def test_send_bank_poll_cycle(cycle: dict) -> None:
    url = cycle["url"]
    first = poll_return_files(company="demo")
    assert first["demo"]["files"] == 1  # the bank's pain.002 for the file
    after_status = states()
    assert after_status["INV-0000002"] == "REJECTED"  # the blocked plusgiro
    assert {s for pid, s in after_status.items() if pid != "INV-0000002"} == {"ACCEPTED"}

    advance(url, 10)  # past every execution date
    second = poll_return_files(company="demo")
    assert second["demo"]["incoming_payments"] == 2
    final = states()
    assert final["INV-0000002"] == "REJECTED"
    assert {s for pid, s in final.items() if pid != "INV-0000002"} == {"BOOKED"}

    reg = register()
    try:
        [rejected] = [p for p in reg.payments() if p.state.value == "REJECTED"]
        assert rejected.reason_code == "AC01"
        incoming = reg.incoming_payments("demo")
        assert sorted((i.ocr, i.amount_minor) for i in incoming) == [
            ("1000000004", 845000),
            ("1000000012", 910000),
        ]
    finally:
        reg.close()
    ledger = Path(load_settings().effective_rent_ledger)
    assert len(list(ledger.glob("*Camt054C*"))) == 1

    state = sandbox_state(url)
    assert len(state["acknowledgements"]) == len(state["documents"])  # every file acknowledged
    assert poll_return_files(company="demo")["demo"]["files"] == 0  # nothing new: nothing happens
    assert states() == final


def test_crash_after_download_is_recovered(cycle: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    crash_once(monkeypatch, LocalRawStore, "put")  # killed with the bytes downloaded, before they are stored
    with pytest.raises(RuntimeError, match="could not be received"):
        poll_return_files(company="demo")
    assert sandbox_state(cycle["url"])["acknowledgements"] == []
    poll_return_files(company="demo")
    assert states()["INV-0000002"] == "REJECTED"
    assert len(sandbox_state(cycle["url"])["acknowledgements"]) == 1


def test_crash_after_store_before_acknowledge_applies_nothing_twice(
    cycle: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    advance(cycle["url"], 10)
    crash_once(monkeypatch, paydag.poll, "acknowledge")
    with pytest.raises(Crash):
        poll_return_files(company="demo")
    reg = register()
    events_before = len(reg.events(cycle["sent"]["msg_id"]))
    incoming_before = len(reg.incoming_payments())
    reg.close()
    assert sandbox_state(cycle["url"])["acknowledgements"] == []

    summary = poll_return_files(company="demo")
    assert summary["demo"]["payments_changed"] == 0 and summary["demo"]["incoming_payments"] == 0
    reg = register()
    assert len(reg.events(cycle["sent"]["msg_id"])) == events_before
    assert len(reg.incoming_payments()) == incoming_before == 2
    reg.close()
    state = sandbox_state(cycle["url"])
    assert len(state["acknowledgements"]) == len(state["documents"])


def test_provider_faults_are_retried(cycle: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    url = cycle["url"]
    monkeypatch.setenv("PAYDAG_PAGERO_TIMEOUT_SECONDS", "1")
    advance(url, 10)
    httpx.post(
        f"{url}/_sandbox/faults",
        json=[
            {"route": "documents", "status": 500, "times": 1},
            {"route": "download", "truncate_body": True, "times": 1},
            {"route": "download", "status": 429, "retry_after": 0, "times": 1},
            {"route": "download", "latency": 2.0, "times": 1},  # longer than the client waits
            {"route": "fetch", "status": 503, "times": 1},
        ],
    ).raise_for_status()
    poll_return_files(company="demo")
    assert {s for pid, s in states().items() if pid != "INV-0000002"} == {"BOOKED"}
    state = sandbox_state(url)
    assert state["faults"] == [] and len(state["acknowledgements"]) == len(state["documents"])


def test_an_unreadable_file_is_quarantined_and_the_rest_goes_on(cycle: dict) -> None:
    url = cycle["url"]
    httpx.post(
        f"{url}/_sandbox/documents",
        json={
            "company_id": "demo-0001",
            "document_type": "camt.054",
            "name": "broken.xml",
            "content_base64": "PERvY3VtZW50Pg==",
        },
    ).raise_for_status()
    summary = poll_return_files(company="demo")
    assert summary["demo"]["quarantined"] == ["broken.xml"]
    assert states()["INV-0000002"] == "REJECTED"  # the bank's pain.002 was applied all the same
    store = resources.open_store(load_settings())
    assert [k for k in store.list("quarantine/demo/") if k.endswith("broken.xml")]
    state = sandbox_state(url)
    assert len(state["acknowledgements"]) == 2  # kept and recorded, so acknowledged too


def test_the_same_file_twice_is_processed_once(cycle: dict) -> None:
    url = cycle["url"]
    poll_return_files(company="demo")
    reg = register()
    events = len(reg.events(cycle["sent"]["msg_id"]))
    reg.close()
    [status_report] = sandbox_state(url)["documents"]
    # The provider delivers the bank's pain.002 a second time, as another document with the same bytes.
    store = resources.open_store(load_settings())
    [key] = list(store.list("incoming/demo/"))
    again = base64.b64encode(store.read(key)).decode()
    httpx.post(
        f"{url}/_sandbox/documents",
        json={
            "company_id": "demo-0001",
            "document_type": "pain.002",
            "name": "again.xml",
            "content_base64": again,
        },
    ).raise_for_status()
    summary = poll_return_files(company="demo")
    assert summary["demo"]["files"] == 1 and summary["demo"]["payments_changed"] == 0
    reg = register()
    assert len(reg.events(cycle["sent"]["msg_id"])) == events
    reg.close()
    assert status_report["isFetched"] is True
    assert len(sandbox_state(url)["acknowledgements"]) == 2


def test_a_duplicate_upload_is_refused_by_the_bank_and_changes_nothing(cycle: dict) -> None:
    poll_return_files(company="demo")
    before = states()
    # Someone uploads the same file again behind the flow's back: the bank refuses it (DU01).
    settings = load_settings()
    store = resources.open_store(settings)
    with resources.open_channel(settings, settings.company("demo")) as channel:
        channel.upload(store.read(cycle["sent"]["raw_key"]), "again.xml", sender_reference="manual",
                       company_id="demo-0001", document_type="pain.001.001.03", send_mode=SendMode.TEST)  # fmt: skip
    summary = poll_return_files(company="demo")
    assert summary["demo"]["files"] == 1 and summary["demo"]["payments_changed"] == 0
    assert states() == before
    [refusal] = [
        d
        for d in sandbox_state(cycle["url"])["documents"]
        if d["documentInfo"]["documentIdentifier"].startswith("pain002")
    ][1:]
    assert refusal["isFetched"]


def test_a_poll_waits_for_its_companys_claim_and_fails_naming_the_holder(
    cycle: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another holder of the company's poll claim keeps this poll out: it acknowledges nothing, fails
    naming the holder and the command that clears the claim, and takes the claim once it is free."""
    advance(cycle["url"], 10)
    monkeypatch.setenv("PAYDAG_CLAIM_WAIT_SECONDS", "2")
    reg = register()
    try:
        other = reg.claims.take("poll", "demo", "a poll on another worker", lease_seconds=60)
        with pytest.raises(
            ClaimBusy, match=r"held by a poll on another worker.*paydag unlock --company demo --what poll"
        ):
            poll_return_files(company="demo")
        assert sandbox_state(cycle["url"])["acknowledgements"] == []
        reg.claims.release("poll", "demo", other.token)
        polled = poll_return_files(company="demo")["demo"]
        assert polled["files"] == polled["acknowledged"] > 1
        [taken] = [e for e in reg.claims.events("poll", "demo") if e.holder != "a poll on another worker"][:1]
        assert taken.holder.startswith("flow run 'poll demo' (") and " pid " in taken.holder
        assert reg.claims.claim("poll", "demo").holder is None  # released at the end of the run
    finally:
        reg.close()


def test_a_poll_fans_its_files_out_over_a_dask_cluster(cycle: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """PAYDAG_DASK_ADDRESS: each file's task runs in a Dask worker process, which reports to the same
    Prefect API and shares the register and the raw store; the outcome is the one the threads give."""
    from distributed import LocalCluster
    from prefect.settings import PREFECT_API_URL

    from tasks import runners

    advance(cycle["url"], 10)  # the pain.002, five camt.054 debit notifications and a credit notification
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())  # what the worker processes inherit
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        monkeypatch.setenv("PAYDAG_DASK_ADDRESS", cluster.scheduler_address)
        on_dask = poll_return_files.with_options(task_runner=runners.per_file())
        polled = on_dask(company="demo")["demo"]
        ran = {
            name: prefix.state_counts["forgotten"] for name, prefix in cluster.scheduler.task_prefixes.items()
        }
    assert polled["files"] == polled["acknowledged"] > 1 and polled["quarantined"] == []
    assert ran == {"receive_document": polled["files"]}  # every file's task ran on the cluster, nothing else
    final = states()
    assert final["INV-0000002"] == "REJECTED"
    assert {s for pid, s in final.items() if pid != "INV-0000002"} == {"BOOKED"}
    assert poll_return_files(company="demo")["demo"]["files"] == 0  # every file acknowledged once


def test_the_payments_page_shows_where_every_payment_stands(cycle: dict) -> None:
    from prefect.artifacts import Artifact

    def page() -> tuple[list[dict], str]:
        table, summary = Artifact.get("payments-demo"), Artifact.get("payments-summary-demo")
        assert table is not None and summary is not None
        rows = json.loads(table.data) if isinstance(table.data, str) else table.data
        return rows, summary.data

    rows, _ = page()  # published by the send
    assert {r["state"] for r in rows} == {"SENT"} and len(rows) == 8
    poll_return_files(company="demo")
    advance(cycle["url"], 10)
    poll_return_files(company="demo")
    rows, summary = page()
    by_id = {r["payment_id"]: r for r in rows}
    assert by_id["INV-0000002"]["state"] == "REJECTED" and by_id["INV-0000002"]["reason"].startswith("AC01")
    assert {r["state"] for pid, r in by_id.items() if pid != "INV-0000002"} == {"BOOKED"}
    assert all(r["account"].split()[1].startswith("**") for r in rows)  # payees masked
    assert (
        by_id["INV-0000002"]["last changed by"] != by_id["INV-0000001"]["last changed by"]
    )  # pain.002, camt.054
    assert "| BOOKED | SEK |" in summary and "| REJECTED | SEK | 1 |" in summary
    assert "**Need someone: 1**" in summary and "INV-0000002" in summary


def place_statement(url: str) -> int:
    """The bank's camt.053 over the booked payments (by EndToEndId) and a credit nobody announced,
    placed for the company to receive. How many payments it books."""
    from decimal import Decimal

    from sandbox.bankfiles import BankEntry, BankTransaction, camt053

    reg = register()
    try:
        booked = [p for p in reg.payments() if p.state.value == "BOOKED"]
    finally:
        reg.close()
    entries = [BankEntry("DBIT", p.execution_date, f"S-{p.payment_id}",
                         (BankTransaction(Decimal(p.amount_minor) / 100, p.currency, end_to_end_id=p.end_to_end_id),))
               for p in booked]  # fmt: skip
    entries.append(BankEntry("CRDT", booked[0].execution_date, "S-UNKNOWN",
                             (BankTransaction(Decimal("42.00"), "SEK", acct_svcr_ref="S-UNKNOWN-1"),), family="RCDT"))  # fmt: skip
    days = sorted(p.execution_date for p in booked)
    data = camt053(version="08", msg_id="STMT-1", statement_id="STMT-1", account_iban=load_settings().company("demo").debtor_account,
                   opening=Decimal("500000.00"), opening_date=days[0], closing_date=days[-1], entries=entries)  # fmt: skip
    httpx.post(f"{url}/_sandbox/documents", json={"company_id": "demo-0001", "document_type": "camt.053",
               "name": "statement.xml", "content_base64": base64.b64encode(data).decode()}).raise_for_status()  # fmt: skip
    return len(booked)


def test_a_statement_is_reconciled_with_the_register_when_it_arrives(cycle: dict) -> None:
    """The bank's camt.053 after the bookings: its debit entries match the booked payments by
    EndToEndId, a credit nobody knows becomes an exception, and the statement is kept for continuity."""
    url = cycle["url"]
    advance(url, 10)
    poll_return_files(company="demo")
    booked = place_statement(url)
    summary = poll_return_files(company="demo")
    # the unknown credit: the poll recorded it from the statement, which no notification announced
    assert summary["demo"]["statement_entries"] == {"matched": booked, "only on the statement": 1}
    reg = register()
    try:
        [kept] = reg.statements("demo")
        assert (kept.statement_key, kept.opening_minor) == ("STMT-1", 50_000_000)
        [unknown] = reg.exceptions("statement")
        assert unknown.item_key == "S-UNKNOWN-1" and unknown.detail["amount_minor"] == 4200
    finally:
        reg.close()
    assert poll_return_files(company="demo")["demo"]["statement_entries"] == {}  # nothing new: nothing done

"""The Pagero client against the sandbox over HTTP: OAuth2 rotation, uploads, lookups, retries, faults."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import httpx
import pytest

from paydag.providers.channel import ProviderError, ProviderUnavailable, SendMode
from paydag.providers.pagero import PageroChannel, PageroCredentials, TokenStore
from sandbox.app import SandboxCredentials
from tests.conftest import sandbox_call

PAIN001 = b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>'


def upload(pagero: PageroChannel, reference: str = "PDREF1", data: bytes = PAIN001) -> str:
    return pagero.upload(
        data,
        "pain001.xml",
        sender_reference=reference,
        company_id="demo-0001",
        document_type="pain.001",
        send_mode=SendMode.TEST,
    )


def test_upload_find_and_status(pagero: PageroChannel, sandbox_url: str) -> None:
    file_id = upload(pagero)
    found = pagero.find_by_sender_reference("PDREF1", "demo-0001")
    assert found is not None and found.id == file_id and found.name == "pain001.xml"
    assert pagero.find_by_sender_reference("PDOTHER", "demo-0001") is None
    assert pagero.find_by_sender_reference("PDREF1", "another-company") is None
    assert pagero.status(file_id).ok
    files = sandbox_call(sandbox_url, "GET", "/_sandbox/state")["files"]
    assert [(f["senderReference"], f["sendingCompanyId"], f["sendMode"]) for f in files] == [
        ("PDREF1", "demo-0001", "Test")
    ]


def test_a_file_the_provider_cannot_process_reports_its_errors(pagero: PageroChannel) -> None:
    status = pagero.status(upload(pagero, data=b"not xml"))
    assert status.state == "ERROR" and status.errors == ("not a pain.001 XML document",)


def test_refresh_tokens_rotate_and_are_persisted(
    pagero: PageroChannel, sandbox_url: str, tmp_path: Path
) -> None:
    store = TokenStore(tmp_path / "pagero-token.json")
    upload(pagero)
    first = store.load()
    assert first["refresh_token"] and (tmp_path / "pagero-token.json").stat().st_mode & 0o777 == 0o600

    sandbox_call(sandbox_url, "POST", "/_sandbox/advance", {"seconds": 601})  # the access token expires
    pagero._clock = lambda: 10**10  # and the client knows it
    assert pagero.find_by_sender_reference("PDREF1", "demo-0001") is not None
    second = store.load()
    assert second["refresh_token"] != first["refresh_token"]

    # The old refresh token is spent: a client that kept it falls back to the password grant.
    store.save(first | {"expires_at": 0})
    assert pagero.find_by_sender_reference("PDREF1", "demo-0001") is not None
    assert store.load()["refresh_token"] not in (first["refresh_token"], second["refresh_token"])


def test_transient_failures_are_retried_with_backoff(pagero: PageroChannel, sandbox_url: str) -> None:
    upload(pagero)
    waits: list[float] = []
    pagero._sleep = waits.append
    sandbox_call(sandbox_url, "POST", "/_sandbox/faults", [{"route": "find", "status": 503, "times": 2}])
    assert pagero.find_by_sender_reference("PDREF1", "demo-0001") is not None
    assert waits == [0.01, 0.02]

    waits.clear()
    sandbox_call(
        sandbox_url, "POST", "/_sandbox/faults", [{"route": "find", "status": 429, "retry_after": 7}]
    )
    assert pagero.find_by_sender_reference("PDREF1", "demo-0001") is not None
    assert waits == [7.0]  # Retry-After is honoured

    sandbox_call(sandbox_url, "POST", "/_sandbox/faults", [{"route": "find", "status": 502, "times": 10}])
    with pytest.raises(ProviderUnavailable, match="502"):
        pagero.find_by_sender_reference("PDREF1", "demo-0001")


def test_client_errors_are_not_retried(pagero: PageroChannel, sandbox_url: str) -> None:
    upload(pagero)
    sandbox_call(sandbox_url, "POST", "/_sandbox/faults", [{"route": "find", "status": 400, "times": 2}])
    with pytest.raises(ProviderError) as caught:
        pagero.find_by_sender_reference("PDREF1", "demo-0001")
    assert caught.value.status == 400 and "sandbox fault" in caught.value.message
    assert len(sandbox_call(sandbox_url, "GET", "/_sandbox/state")["faults"]) == 1  # one call, not two


def test_an_upload_is_never_repeated_blindly(pagero: PageroChannel, sandbox_url: str) -> None:
    sandbox_call(sandbox_url, "POST", "/_sandbox/faults", [{"route": "upload", "status": 503}])
    with pytest.raises(ProviderUnavailable):
        upload(pagero)
    assert sandbox_call(sandbox_url, "GET", "/_sandbox/state")["files"] == []


def test_a_dropped_connection_after_the_upload_leaves_the_file_at_the_provider(
    pagero: PageroChannel, sandbox_url: str
) -> None:
    sandbox_call(sandbox_url, "POST", "/_sandbox/faults", [{"route": "upload", "drop_after_store": True}])
    with pytest.raises(ProviderUnavailable):
        upload(pagero)
    assert len(sandbox_call(sandbox_url, "GET", "/_sandbox/state")["files"]) == 1
    assert pagero.find_by_sender_reference("PDREF1", "demo-0001") is not None


def test_timeouts_are_transport_errors(pagero: PageroChannel, sandbox_url: str) -> None:
    pagero._http.timeout = 0.2
    sandbox_call(sandbox_url, "POST", "/_sandbox/faults", [{"route": "find", "latency": 1.0, "times": 10}])
    with pytest.raises(ProviderUnavailable, match="ReadTimeout"):
        pagero.find_by_sender_reference("PDREF1", "demo-0001")


def test_received_documents_download_and_acknowledge(pagero: PageroChannel, sandbox_url: str) -> None:
    ids = [
        sandbox_call(
            sandbox_url,
            "POST",
            "/_sandbox/documents",
            {
                "company_id": "demo-0001",
                "document_type": "camt.054",
                "name": f"c{n}.xml",
                "content_base64": base64.b64encode(f"<c{n}/>".encode()).decode(),
            },
        )["id"]
        for n in range(3)
    ]
    listed = pagero.list_received("demo-0001")
    assert sorted(d.id for d in listed) == sorted(ids)
    assert pagero.download(ids[1]) == b"<c1/>"
    pagero.acknowledge([ids[1]])
    state = sandbox_call(sandbox_url, "GET", "/_sandbox/state")
    assert [a["id"] for a in state["acknowledgements"]] == [ids[1]]
    assert {d.id: d.fetched for d in pagero.list_received("demo-0001")}[ids[1]] is True


def test_secrets_never_reach_the_log(pagero: PageroChannel, sandbox_url: str, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    upload(pagero)
    sandbox_call(sandbox_url, "POST", "/_sandbox/advance", {"seconds": 601})
    pagero._clock = lambda: 10**10
    pagero.status(pagero.find_by_sender_reference("PDREF1", "demo-0001").id)
    tokens = json.loads((tmp_path / "pagero-token.json").read_text())
    secrets = [
        SandboxCredentials().password,
        SandboxCredentials().client_secret,
        tokens["access_token"],
        tokens["refresh_token"],
    ]
    assert not [s for s in secrets if s in caplog.text]
    credentials = PageroCredentials("id", "top-secret", "user", "hunter2")
    assert "top-secret" not in repr(credentials) and "hunter2" not in repr(credentials)


def test_credentials_from_the_environment() -> None:
    env = {
        "PAGERO_CLIENT_ID": "a",
        "PAGERO_CLIENT_SECRET": "b",
        "PAGERO_USERNAME": "c",
        "PAGERO_PASSWORD": "d",
    }
    assert PageroCredentials.from_env(env) == PageroCredentials("a", "b", "c", "d")
    with pytest.raises(ProviderError, match="PAGERO_PASSWORD"):
        PageroCredentials.from_env(env | {"PAGERO_PASSWORD": ""})


def test_listing_follows_every_page(pagero: PageroChannel, sandbox_url: str) -> None:
    with httpx.Client(base_url=sandbox_url) as client:
        for n in range(230):
            body = {
                "company_id": "demo-0001",
                "document_type": "pain.002",
                "name": f"d{n}.xml",
                "content_base64": "PGEvPg==",
            }
            client.post("/_sandbox/documents", json=body).raise_for_status()
    listed = pagero.list_received("demo-0001")
    assert len(listed) == len({d.id for d in listed}) == 230

"""The autogiro consent client against the sandbox: list, create, modify; checks before any call;
the API key and personal data never in a log."""

from __future__ import annotations

import logging

import httpx
import pytest

from paydag.providers.autogiro import AutogiroClient, ConsentInvalid
from paydag.providers.channel import ProviderError, ProviderUnavailable
from sandbox.autogiro import API_KEY


@pytest.fixture
def autogiro(sandbox_url: str):
    with AutogiroClient(
        sandbox_url, API_KEY, timeout=5, backoff_seconds=0.01, sleep=lambda s: None
    ) as client:
        yield client


def test_list_by_company_and_person(autogiro: AutogiroClient) -> None:
    consents = autogiro.list(company_id="demo-0001")
    assert [(c.id, c.payer_number, c.clearing_number, c.active) for c in consents] == [
        ("1", "197012071234", "5000", True),
        ("2", "198112289874", "6000", True),
    ]
    assert [c.id for c in autogiro.list(person_id="198112289874")] == ["2"]


def test_create_and_modify(autogiro: AutogiroClient) -> None:
    created = autogiro.create(
        person_id="196408233234",
        company_id="demo-0001",
        clearing_number="8327-9",
        account_number="912 345 678-3",
        bgc_action="add",
    )
    assert (created.payer_number, created.clearing_number, created.account_number, created.bgc_action) == (
        "196408233234",
        "83279",
        "9123456783",
        "add",
    )
    waiting = autogiro.create(person_id="197803152383", company_id="demo-0001", waiting_for_econsent=True)
    assert waiting.active is False and waiting.clearing_number is None
    modified = autogiro.modify(
        consent_id="1", person_id="197012071234", clearing_number="9020", account_number="1234566"
    )
    assert (modified.clearing_number, modified.account_number) == ("9020", "1234566")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        (
            {"person_id": "197012071235", "clearing_number": "5000", "account_number": "1234560"},
            "personal number is not valid",
        ),
        (
            {"person_id": "197012071234", "clearing_number": "5000", "account_number": "1234561"},
            "SEB account number fails its check digit",
        ),
        ({"person_id": "197012071234"}, "required unless waiting for an e-consent"),
    ],
)
def test_checked_before_any_request(
    autogiro: AutogiroClient, sandbox_url: str, kwargs: dict, reason: str
) -> None:
    before = len(autogiro.list())
    httpx.post(f"{sandbox_url}/_sandbox/faults", json=[{"route": "autogiro", "status": 500, "times": 100}])
    with pytest.raises(ConsentInvalid, match=reason):
        autogiro.create(company_id="demo-0001", **kwargs)
    assert len(httpx.get(f"{sandbox_url}/_sandbox/state").json()["faults"]) == 1  # no request was made
    httpx.post(f"{sandbox_url}/_sandbox/faults", json=[])
    assert len(autogiro.list()) == before


def test_refusals_and_retries(autogiro: AutogiroClient, sandbox_url: str) -> None:
    with pytest.raises(ProviderError, match="only consents with bgcaction none") as caught:
        autogiro.modify(
            consent_id="2", person_id="198112289874", clearing_number="5000", account_number="1234560"
        )
    assert caught.value.status == 409
    httpx.post(f"{sandbox_url}/_sandbox/faults", json=[{"route": "autogiro", "status": 503, "times": 2}])
    assert len(autogiro.list(company_id="demo-0001")) >= 2
    httpx.post(f"{sandbox_url}/_sandbox/faults", json=[{"route": "autogiro", "status": 502, "times": 50}])
    with pytest.raises(ProviderUnavailable):
        autogiro.list()


def test_the_api_key_and_personal_data_never_reach_a_log(
    sandbox_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with AutogiroClient(sandbox_url, API_KEY) as client:
        client.list(person_id="197012071234")
        client.modify(
            consent_id="1", person_id="197012071234", clearing_number="5000", account_number="1234560"
        )
    assert "autogiromedgivanden.xml" in caplog.text  # the requests were logged…
    assert API_KEY not in caplog.text and "197012071234" not in caplog.text and "1234560" not in caplog.text
    assert "apikey=***" in caplog.text
    assert API_KEY not in repr(client)

"""The PayEx credit-account client against the sandbox over HTTP: paging, problems, retries, Decimal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from paydag.providers.channel import ProviderUnavailable
from paydag.providers.payex import CreditAccountClient, PayExProblem
from paydag.samples import ocr_reference
from sandbox.payex import LEDGER, TOKEN


@pytest.fixture
def payex(sandbox_url: str):
    waits: list[float] = []
    with CreditAccountClient(
        sandbox_url, LEDGER, TOKEN, timeout=5, backoff_seconds=0.01, sleep=waits.append
    ) as client:
        client.waits = waits
        yield client


def test_account_with_exact_amounts_and_normalised_currency(payex: CreditAccountClient) -> None:
    account = payex.account("900001")
    assert account["currency"] == "SEK"  # the API writes "sek"
    assert account["creditLimit"] == Decimal("20000.00") and isinstance(account["totalBalance"], Decimal)


def test_bills_follow_every_page_and_carry_payment_details(payex: CreditAccountClient) -> None:
    bills = payex.bills("900002", top=1)  # one bill a page: three pages
    assert [b["billNo"] for b in bills] == ["bill-20", "bill-21", "bill-22"]
    open_bill = bills[0]
    assert (open_bill["status"], open_bill["billType"]) == ("open", "Bill")
    assert open_bill["activePaymentDetails"]["paymentReference"] == ocr_reference(4711001)
    assert bills[2]["billType"] == "Reminder"
    assert payex.bill("900002", "bill-21")["status"] == "closed"


def test_transactions_since_a_date_over_several_pages(payex: CreditAccountClient) -> None:
    everything = payex.transactions("900001", from_date=date(2026, 9, 1))
    assert len(everything) == 45  # 20 a page: three pages
    recent = payex.transactions("900001", from_date=date(2026, 10, 1))
    assert len(recent) == 15 and all(t["date"] >= "2026-10-01" for t in recent)
    assert isinstance(recent[0]["amount"], Decimal)


@pytest.mark.parametrize(
    ("call", "status", "text"),
    [
        (lambda c: c.account("999999"), 404, "no account 999999"),
        (lambda c: c.bill("900001", "bill-x"), 404, "no bill bill-x"),
        (
            lambda c: c._call("GET", "/ledger/credit-account/v1/1234/accounts/900001/transactions"),
            400,
            "fromDate: a date YYYY-MM-DD is required",
        ),
        (lambda c: c.add_card("900001", {"token": "tok-0"}), 409, "already added"),
        (lambda c: c.add_card("900001", {"token": "declined"}), 422, "declined"),
        (
            lambda c: c.update_recurring_payment_setting("900001", {"recurringPaymentScope": "everything"}),
            400,
            "recurringPaymentScope",
        ),
    ],
)
def test_problems_are_typed_errors(payex: CreditAccountClient, call, status: int, text: str) -> None:
    with pytest.raises(PayExProblem, match=text) as caught:
        call(payex)
    assert caught.value.status == status
    assert payex.waits == []  # a 4xx is not retried


def test_an_unconfigured_ledger_is_not_retried(sandbox_url: str) -> None:
    with (
        CreditAccountClient(sandbox_url, "9999", TOKEN, backoff_seconds=0.01) as client,
        pytest.raises(PayExProblem) as caught,
    ):
        client.account("900001")
    assert caught.value.status == 501 and caught.value.title == "Not Configured"


def test_a_bad_token_is_401(sandbox_url: str) -> None:
    with CreditAccountClient(sandbox_url, LEDGER, "wrong") as client, pytest.raises(PayExProblem) as caught:
        client.account("900001")
    assert caught.value.status == 401


def test_429_and_5xx_are_retried(payex: CreditAccountClient, sandbox_url: str) -> None:
    httpx.post(
        f"{sandbox_url}/_sandbox/faults",
        json=[
            {"route": "payex", "status": 503, "times": 2},
            {"route": "payex", "status": 429, "retry_after": 3},
        ],
    )
    assert payex.account("900003")["accountNo"] == "900003"
    assert payex.waits == [0.01, 0.02, 3.0]
    httpx.post(f"{sandbox_url}/_sandbox/faults", json=[{"route": "payex", "status": 500, "times": 10}])
    with pytest.raises(ProviderUnavailable):
        payex.account("900003")


def test_cards_reservations_and_recurring_setting(payex: CreditAccountClient) -> None:
    assert [c["id"] for c in payex.cards("900001")] == ["card-0"]
    added = payex.add_card("900001", {"token": "tok-new", "panTrunc": "492500******0012"})
    assert payex.card("900001", added["id"])["token"] == "tok-new"
    assert payex.reservations("900001")[0]["amount"] == Decimal("250.00")  # answered with 201
    setting = payex.update_recurring_payment_setting(
        "900001", {"recurringPaymentScope": "fixedRecurring", "fixedRecurringAmount": Decimal("1500.00")}
    )
    assert setting["fixedRecurringAmount"] == Decimal("1500.00")
    assert payex.recurring_payment_setting("900001")["recurringPaymentScope"] == "fixedRecurring"


def test_credit_limit_may_only_be_lowered(payex: CreditAccountClient) -> None:
    with pytest.raises(ValueError, match="may only be lowered"):
        payex.update_account("900002", credit_limit=Decimal("15000.01"))
    assert payex.update_account("900002", credit_limit=Decimal("12000.50"), charity_donation=True)[
        "creditLimit"
    ] == Decimal("12000.50")

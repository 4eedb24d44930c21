"""The payments page: counts and sums per state exact, and what needs someone."""

from __future__ import annotations

from datetime import date

from paydag.register import PaymentRecord, PaymentState
from paydag.register.page import payments_page


def record(pid: str, state: PaymentState, minor: int, executed: str = "2026-11-24", **kw) -> PaymentRecord:
    return PaymentRecord(
        payment_id=pid, msg_id="PDX", end_to_end_id=pid, creditor_name="Sågverk Öster AB", account_type="BG",
        account="50501055", amount_minor=minor, currency=kw.get("currency", "SEK"), execution_date=executed,
        state=state, reason_code=kw.get("code"), reason_text=kw.get("text"),
    )  # fmt: skip


def test_totals_per_state_and_currency_and_who_needs_someone() -> None:
    recent = [
        (record("A", PaymentState.BOOKED, 10_001), "camt054.xml"),
        (record("B", PaymentState.BOOKED, 20_002), "camt054.xml"),
        (record("C", PaymentState.REJECTED, 500, code="AC01", text="blocked"), "pain002.xml"),
        (record("D", PaymentState.SENT, 700, executed="2026-11-20"), "PDX.xml"),  # past the cutoff
        (record("E", PaymentState.SENT, 900, executed="2026-11-26"), "PDX.xml"),  # not yet due
        (record("F", PaymentState.BOOKED, 1_000, currency="EUR"), "camt054.xml"),
    ]
    page = payments_page("demo", recent, since=date(2026, 11, 1), awaiting_cutoff=date(2026, 11, 21))
    assert page.totals == [
        {"state": "BOOKED", "currency": "EUR", "payments": 1, "amount": "10.00"},
        {"state": "BOOKED", "currency": "SEK", "payments": 2, "amount": "300.03"},
        {"state": "REJECTED", "currency": "SEK", "payments": 1, "amount": "5.00"},
        {"state": "SENT", "currency": "SEK", "payments": 2, "amount": "16.00"},
    ]
    assert [(n["payment_id"], n["why"]) for n in page.needs_someone] == [
        ("C", "rejected by the bank: AC01 blocked"),
        ("D", "executed 2026-11-20, no return report yet"),
    ]
    assert page.rows[2]["last changed by"] == "pain002.xml" and page.rows[0]["account"] == "BG ****1055"
    text = page.as_markdown()
    assert "| BOOKED | SEK | 2 | 300.03 |" in text and "**Need someone: 2**" in text


def test_an_empty_page_says_so() -> None:
    page = payments_page("demo", [], since=date(2026, 11, 1), awaiting_cutoff=date(2026, 11, 21))
    assert page.as_markdown().endswith("No batches in this period.")

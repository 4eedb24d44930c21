"""The payments page: every payment of a company's recent batches where it stands now, counts and
sums per state, and the payments that need someone. Republished by every send and poll."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from paydag.money import from_minor
from paydag.register.batches import PaymentRecord
from paydag.register.models import PaymentState

_WAITING = (PaymentState.SENT, PaymentState.ACCEPTED)  # the bank has not booked them yet


@dataclass(frozen=True)
class PaymentsPage:
    company: str
    since: date
    rows: list[dict[str, object]]  # one per payment, as finance reads it: account masked, amount exact
    totals: list[dict[str, object]]  # per state and currency: how many, how much
    needs_someone: list[dict[str, object]]  # rejected, returned, or awaiting their return report

    def as_markdown(self) -> str:
        lines = [f"### Payments of {self.company} since {self.since}", ""]
        if not self.rows:
            return "\n".join([*lines, "No batches in this period."])
        lines += ["| state | currency | payments | amount |", "|---|---|---:|---:|"]
        lines += [
            f"| {t['state']} | {t['currency']} | {t['payments']} | {t['amount']} |" for t in self.totals
        ]
        lines += ["", f"**Need someone: {len(self.needs_someone)}**", ""]
        lines += [
            f"- {n['payment_id']} ({n['batch']}, {n['amount']} {n['currency']}): {n['why']}"
            for n in self.needs_someone
        ]
        return "\n".join(lines)


def payments_page(
    company: str, recent: list[tuple[PaymentRecord, str | None]], *, since: date, awaiting_cutoff: date
) -> PaymentsPage:
    """The page from the register's `recent_payments`; a SENT or ACCEPTED payment executed on or before
    `awaiting_cutoff` is awaiting its return report."""
    rows, needs = [], []
    counts: dict[tuple[str, str], int] = defaultdict(int)
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for payment, last_file in recent:
        row = payment.as_row() | {"last changed by": last_file}
        rows.append(row)
        key = (payment.state.value, payment.currency)
        counts[key] += 1
        sums[key] += from_minor(payment.amount_minor, payment.currency)
        why = None
        if payment.state in (PaymentState.REJECTED, PaymentState.RETURNED):
            why = f"{payment.state.value.lower()} by the bank: {row['reason'] or 'no reason given'}"
        elif payment.state in _WAITING and date.fromisoformat(payment.execution_date) <= awaiting_cutoff:
            why = f"executed {payment.execution_date}, no return report yet"
        if why:
            needs.append(row | {"why": why})
    totals = [
        {"state": state, "currency": currency, "payments": counts[state, currency], "amount": f"{sums[state, currency]:f}"}
        for state, currency in sorted(counts)
    ]  # fmt: skip
    return PaymentsPage(company=company, since=since, rows=rows, totals=totals, needs_someone=needs)

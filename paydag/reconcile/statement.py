"""A bank statement (camt.053) against what the register knows, entry by entry, and its balance against
the previous statement of the account.

Debit entries are matched to supplier payments: by EndToEndId; then, for a batch booking (one entry
for a whole PmtInf or message), by PmtInfId or MsgId with the entry's amount equal to the payments'
sum; then by amount and date (within `window_days` of the execution date), said as fuzzy. Credit
entries are matched to incoming payments: by AcctSvcrRef, then by a creditor reference with the same
amount, then by amount and date (fuzzy); and to curated Swedbank Pay settlement reports: by the
AccountingNo in the remittance text, else by the report's payout amount (fuzzy). What is left becomes
an exception, carried forward like the other reconciliations' (first seen, resolved by a later run
with how): an entry the register does not know (kind `statement`), a payment the register has booked
in the statement's days that the statement does not show (kind `stmt-payment`), and a break in
balance continuity (kind `stmt-balance`): an opening balance other than the previous statement's
closing balance, or bank days with no statement between the two, named.

Statements are small (a day's entries of one account); this is plain Python over dicts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import TYPE_CHECKING

from paydag.bankdays import is_bank_day
from paydag.formats.camt053 import Statement

if TYPE_CHECKING:
    from paydag.register import (
        ExceptionsUpdate,
        IncomingPayment,
        PaymentRecord,
        ReceivedFile,
        Register,
        SettlementRecord,
    )
    from paydag.register.statements import StatementRecord
    from paydag.storage import RawStore


class EntryState(StrEnum):
    MATCHED = "matched"
    FUZZY = "matched by amount and date"
    UNMATCHED = "not in the register"
    ONLY_HERE = "only on the statement"  # a credit no notification announced: the register has it from here


STATEMENTS_READER = "reconcile-statement"  # the raw store's `source` of a statement file it was given
OPEN_ENTRY_STATES = (EntryState.UNMATCHED, EntryState.ONLY_HERE)


@dataclass(frozen=True)
class EntryMatch:
    """One statement row (a TxDtls, or an entry without any) and what it matched."""

    statement: str
    entry: int
    transaction: int
    credit_debit: str
    amount_minor: int
    currency: str
    booking_date: str | None
    reference: str | None  # the row's AcctSvcrRef, else its entry's
    state: EntryState
    matched: str | None = None  # payment INV-1, batch PD…, incoming payment 17, settlement report DEMO-…
    how: str | None = None  # EndToEndId, PmtInfId (batch booking), MsgId (batch booking), AcctSvcrRef, …
    own_reference: bool = False  # `reference` is the transaction's own, not its entry's

    @property
    def key(self) -> str:
        """The exception's key: the bank's reference of the row, else of its entry with the row's number,
        else the row's place in the statement."""
        if self.own_reference:
            return self.reference[:64]  # type: ignore[index]
        return f"{self.reference or f'{self.statement}/{self.entry}'}/{self.transaction}"[-64:]

    def as_row(self) -> dict[str, object]:
        return {"statement": self.statement, "entry": self.entry, "transaction": self.transaction,
                "credit_debit": self.credit_debit, "amount_minor": self.amount_minor, "currency": self.currency,
                "booking_date": self.booking_date, "reference": self.reference, "state": self.state.value,
                "matched": self.matched, "how": self.how}  # fmt: skip


@dataclass(frozen=True)
class BalanceBreak:
    account: str
    statement: str
    previous: str
    previous_closing_minor: int | None
    opening_minor: int | None
    missing_days: tuple[str, ...]  # bank days with no statement between the two

    @property
    def key(self) -> str:
        return f"{self.account[-12:]}:{self.previous[:24]}>{self.statement[:24]}"

    def describe(self) -> str:
        parts = []
        if self.previous_closing_minor != self.opening_minor:
            parts.append(
                f"opening balance {self.opening_minor} ≠ the previous statement {self.previous}'s closing "
                f"{self.previous_closing_minor} (minor units)"
            )
        if self.missing_days:
            parts.append(f"no statement for {', '.join(self.missing_days)}")
        return f"{self.statement}: " + "; ".join(parts)


@dataclass
class StatementReconciliation:
    entries: list[EntryMatch] = field(default_factory=list)
    missing_payments: list[PaymentRecord] = field(default_factory=list)  # booked, not on any statement
    matched_payments: list[str] = field(default_factory=list)  # their exception keys
    breaks: list[BalanceBreak] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for e in self.entries:
            out[e.state.value] += 1
        if self.missing_payments:
            out["booked, not on the statement"] = len(self.missing_payments)
        if self.breaks:
            out["balance breaks"] = len(self.breaks)
        return dict(sorted(out.items()))


def _days(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def _near(a: str | None, b: str | None, window_days: int) -> bool:
    da, db = _days(a), _days(b)
    return da is not None and db is not None and abs((da - db).days) <= window_days


def reconcile_statement(
    statement: Statement,
    *,
    payments: Sequence[PaymentRecord],
    incoming: Sequence[IncomingPayment],
    settlements: Sequence[SettlementRecord],
    window_days: int = 3,
    file_id: int | None = None,
) -> StatementReconciliation:
    """Every row of `statement` matched to the register's payments, incoming payments and settlement
    reports (each used once), and the booked payments of its days it does not show. Incoming payments
    the register took from this very statement (`file_id`, when the poll applied it) match nothing: a
    credit known only from the statement is an exception of its own."""
    label = statement.id or statement.account or "statement"
    by_e2e = {p.end_to_end_id: p for p in payments}
    used: set[str] = set()  # payment_ids, incoming ids, accounting numbers already matched
    out = StatementReconciliation()
    rows = [t for t in statement.transactions if t.status in (None, "BOOK")]
    for t in rows:
        match: tuple[EntryState, str, str] | None = None
        if t.credit_debit == "DBIT":
            match = _debit(t, by_e2e, payments, used, window_days)
        else:
            announced = [i for i in incoming if file_id is None or i.file_id != file_id]
            match = _credit(t, announced, settlements, used, window_days)
            if match is None and len(announced) < len(incoming):
                match = (EntryState.ONLY_HERE, None, "no notification announced it")
        state, matched, how = match or (EntryState.UNMATCHED, None, None)
        out.entries.append(
            EntryMatch(label, t.entry, t.transaction, t.credit_debit, t.amount_minor, t.currency, t.booking_date,
                       t.acct_svcr_ref or t.entry_acct_svcr_ref, state, matched, how, bool(t.acct_svcr_ref))
        )  # fmt: skip
    first = min(
        (d for d in (_days(statement.opening_date), *(_days(t.booking_date) for t in rows)) if d),
        default=None,
    )
    last = max(
        (d for d in (_days(statement.closing_date), *(_days(t.booking_date) for t in rows)) if d),
        default=None,
    )
    out.matched_payments = [payment_key(p) for p in payments if p.payment_id in used]
    if first and last:
        out.missing_payments = [
            p for p in payments
            if p.state.value == "BOOKED" and p.payment_id not in used and first <= _days(p.execution_date) <= last
            and (statement.currency is None or p.currency == statement.currency)
        ]  # fmt: skip
    return out


def payment_key(p: PaymentRecord) -> str:
    return f"{p.msg_id[:20]}:{p.payment_id}"[:64]


def _debit(t, by_e2e, payments, used, window_days) -> tuple[EntryState, str, str] | None:
    p = by_e2e.get(t.end_to_end_id or "")
    if p is not None and p.payment_id not in used:
        used.add(p.payment_id)
        return EntryState.MATCHED, f"payment {p.payment_id}", "EndToEndId"
    if not t.end_to_end_id:  # a batch booking: one entry for a PmtInf or a message
        for field_name, ref in (
            ("PmtInfId", t.batch_pmt_inf_id or t.pmt_inf_id),
            ("MsgId", t.batch_msg_id or t.msg_id),
        ):
            if not ref:
                continue
            group = [p for p in payments if (p.pmt_inf_id if field_name == "PmtInfId" else p.msg_id) == ref
                     and p.payment_id not in used]  # fmt: skip
            if group and sum(p.amount_minor for p in group) == (t.entry_amount_minor or t.amount_minor):
                used.update(p.payment_id for p in group)
                return (
                    EntryState.MATCHED,
                    f"{len(group)} payment(s) of {ref}",
                    f"{field_name} (batch booking)",
                )
    for p in payments:
        if (p.payment_id not in used and p.amount_minor == t.amount_minor and p.currency == t.currency
                and p.state.value not in ("REJECTED", "CANCELLED", "AWAITING_APPROVAL")
                and _near(p.execution_date, t.booking_date, window_days)):  # fmt: skip
            used.add(p.payment_id)
            return EntryState.FUZZY, f"payment {p.payment_id}", "amount and date"
    return None


def _credit(t, incoming, settlements, used, window_days) -> tuple[EntryState, str, str] | None:
    reference = t.acct_svcr_ref or t.entry_acct_svcr_ref
    refs = {t.ocr, *(r.split(":", 1)[-1] for r in t.references)} - {None}
    for how, hit in (
        ("AcctSvcrRef", lambda i: reference and i.acct_svcr_ref == reference),
        (
            "reference and amount",
            lambda i: i.amount_minor == t.amount_minor and (refs & {i.ocr, *i.references}),
        ),
    ):
        for i in incoming:
            if f"in{i.id}" not in used and hit(i):
                used.add(f"in{i.id}")
                return EntryState.MATCHED, f"incoming payment {i.id}", how
    text = " ".join(filter(None, [t.free_text, *t.references]))
    curated = [s for s in settlements if s.state.value == "CURATED" and s.accounting_no not in used]
    for s in curated:
        if s.accounting_no in text:
            used.add(s.accounting_no)
            return (
                EntryState.MATCHED,
                f"settlement report {s.accounting_no}",
                "AccountingNo in the remittance",
            )
    for s in curated:
        if s.sums_minor.get(t.currency) == t.amount_minor:
            used.add(s.accounting_no)
            return EntryState.FUZZY, f"settlement report {s.accounting_no}", "payout amount"
    for i in incoming:
        if (
            f"in{i.id}" not in used
            and i.amount_minor == t.amount_minor
            and _near(i.booking_date, t.booking_date, window_days)
        ):
            used.add(f"in{i.id}")
            return EntryState.FUZZY, f"incoming payment {i.id}", "amount and date"
    return None


def balance_breaks(statements: Iterable[StatementRecord]) -> list[BalanceBreak]:
    """Each statement's opening balance against the previous statement of its account: a different
    amount, or bank days between the two with no statement, is a break."""
    out: list[BalanceBreak] = []
    by_account: dict[str, list[StatementRecord]] = defaultdict(list)
    for s in statements:
        by_account[s.account].append(s)
    for account, series in by_account.items():
        series.sort(key=lambda s: (s.closing_date or date.min, s.opening_date or date.min))
        for prev, this in pairwise(series):
            missing: list[str] = []
            if prev.closing_date and this.opening_date:
                day = prev.closing_date + timedelta(days=1)
                while day < this.opening_date:
                    if is_bank_day(day):
                        missing.append(day.isoformat())
                    day += timedelta(days=1)
            if prev.closing_minor != this.opening_minor or missing:
                out.append(BalanceBreak(account, this.statement_key, prev.statement_key, prev.closing_minor,
                                        this.opening_minor, tuple(missing)))  # fmt: skip
    return out


@dataclass(frozen=True)
class KeptStatement:
    name: str  # the file it came in
    statement: Statement
    file_id: int | None = None  # the received file, when the poll applied it


@dataclass(frozen=True)
class StatementUpdate:
    entries: ExceptionsUpdate
    payments: ExceptionsUpdate
    balances: ExceptionsUpdate


def carry_statement_exceptions(
    register: Register,
    result: StatementReconciliation,
    statements: Sequence[StatementRecord],
    *,
    label: str,
    now: datetime,
) -> StatementUpdate:
    """Open, keep or resolve the statement exceptions (idempotent). Balance breaks are worked out over
    every statement of the accounts, so a missing statement that arrives later resolves its gap."""
    entries = register.update_exceptions(
        "statement",
        open_items={e.key: (e.state.value, e.as_row()) for e in result.entries if e.state in OPEN_ENTRY_STATES},
        matched_keys=[e.key for e in result.entries if e.state not in OPEN_ENTRY_STATES],
        resolution=f"matched in {label}", now=now,
    )  # fmt: skip
    payments = register.update_exceptions(
        "stmt-payment",
        open_items={payment_key(p): ("booked, not on the statement", p.as_row()) for p in result.missing_payments},
        matched_keys=result.matched_payments, resolution=f"on {label}", now=now,
    )  # fmt: skip
    breaks = balance_breaks(statements)
    balances = register.update_exceptions(
        "stmt-balance",
        open_items={b.key: ("balance break", {"detail": b.describe(), "missing_days": list(b.missing_days)})
                    for b in breaks},
        matched_keys=[e.item_key for e in register.exceptions("stmt-balance")
                      if e.item_key not in {b.key for b in breaks}],
        resolution=f"continuous after {label}", now=now,
    )  # fmt: skip
    return StatementUpdate(entries, payments, balances)


def reconcile_statements(
    register: Register,
    company_id: str,
    statements: Sequence[KeptStatement],
    *,
    now: datetime,
    window_days: int = 3,
) -> tuple[StatementReconciliation, StatementUpdate]:
    """Statements of a company against its register, the exceptions carried forward once for all."""
    payments = register.payments(company_id=company_id)
    incoming = register.incoming_payments(company_id)
    settlements = register.settlements()
    total = StatementReconciliation()
    for kept in statements:
        one = reconcile_statement(kept.statement, payments=payments, incoming=incoming, settlements=settlements,
                                  window_days=window_days, file_id=kept.file_id)  # fmt: skip
        total.entries += one.entries
        total.matched_payments += one.matched_payments
        total.missing_payments += [p for p in one.missing_payments if p not in total.missing_payments]
    matched = set(total.matched_payments)
    total.missing_payments = [p for p in total.missing_payments if payment_key(p) not in matched]
    known = register.statements(company_id)
    total.breaks = balance_breaks(known)
    label = ", ".join(dict.fromkeys(k.name for k in statements)) or "no statement"
    return total, carry_statement_exceptions(register, total, known, label=label, now=now)


def kept_statements(raw_store: RawStore, files: Iterable[ReceivedFile]) -> list[KeptStatement]:
    """The statements of received camt.053 files, read back from the raw store."""
    from paydag.formats.camt053 import parse_camt053
    from paydag.storage import name_in_key

    out: list[KeptStatement] = []
    for f in files:
        name = name_in_key(f.raw_key)
        out += [
            KeptStatement(name, st, f.id) for st in parse_camt053(raw_store.read(f.raw_key), name).statements
        ]
    return out


def received_statements(
    register: Register, raw_store: RawStore, company_id: str, raw_keys: Iterable[str] | None = None
) -> tuple[list[KeptStatement], tuple[str, ...]]:
    """The statements of the company's received camt.053 files (those of `raw_keys`, or all), and the
    files' raw keys."""
    wanted = None if raw_keys is None else set(raw_keys)
    files = [
        f for f in register.files_of_kind(company_id, "camt.053") if wanted is None or f.raw_key in wanted
    ]
    return kept_statements(raw_store, files), tuple(sorted(f.raw_key for f in files))


def reconcile_recorded(
    register: Register,
    raw_store: RawStore,
    company_id: str,
    statements: Sequence[KeptStatement],
    inputs: Sequence[str],
    *,
    now: datetime,
    label: str,
) -> tuple[StatementReconciliation, StatementUpdate]:
    """`reconcile_statements`, then the run's record in the raw store (`inputs`: the raw keys of what it
    read), written once the exceptions are committed, so that a replay reconciles where this run did."""
    from paydag.storage.journal import ReconciliationRun, record_run

    reconciled = reconcile_statements(register, company_id, statements, now=now)
    record_run(raw_store, company_id, ReconciliationRun(STATEMENTS_READER, tuple(inputs), now, label))
    return reconciled

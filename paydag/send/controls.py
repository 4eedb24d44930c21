"""The checks that hold a payment before money leaves, against what the company paid before (the
register): a payment that repeats an earlier one (in any state but REJECTED or CANCELLED), a first payment to an account, a payee paid to an
account other than before (the classic invoice fraud), and one account paid under several names.

A duplicate is always held; the payee-account flags are held or only warned, per company
(`new_payee_accounts`), and held means held for approval where the company has approvers: the batch
then waits for one whatever its total. A row may carry `allow_duplicate` with a reason: then a duplicate is paid and
the reason is reported beside it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from paydag.identifiers import mask
from paydag.money import to_minor
from paydag.payables import Payment, PaymentBatch, RowIssue, ValidationReport

if TYPE_CHECKING:  # the register's types, not its database driver: build-pain001 runs without one
    from paydag.register import EarlierPayment, PayeeHistory

# Legal forms and the like, which one supplier's invoices write in some places and not in others.
_LEGAL_FORMS = frozenset({
    "ab", "publ", "hb", "kb", "ek", "oy", "oyj", "as", "asa", "aps", "gmbh", "ag", "kg", "ltd", "limited",
    "inc", "llc", "plc", "bv", "nv", "sa", "sarl", "srl", "spa", "co",
})  # fmt: skip


HELD_FOR_APPROVAL = "held for approval: "


def normalised_name(name: str) -> str:
    """A creditor name as the checks compare it: letters and digits, no accents, lower case, no legal
    form (`Sågverk Öster AB` and `SAGVERK ÖSTER` are one payee)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(w for w in re.findall(r"[a-z0-9]+", plain.lower()) if w not in _LEGAL_FORMS)


@dataclass(frozen=True)
class Controls:
    """A company's settings for the checks."""

    duplicate_window_days: int = 30
    new_payee_accounts: Literal["warn", "hold"] = "warn"
    approval_available: bool = False  # the company has approvers: "hold" then waits for their approval


DEFAULT_CONTROLS = Controls()


def check_payments(
    batch: PaymentBatch, history: PayeeHistory, controls: Controls
) -> tuple[list[RowIssue], list[RowIssue]]:
    """The payments to hold (errors: they do not travel) and the flags that only warn."""
    from paydag.register import PaymentState  # a history to check means a register is there

    held: list[RowIssue] = []
    warned: list[RowIssue] = []
    # The batch's own payments, registered by an earlier run of this send, are not "before".
    own = {p.payment_id for p in batch.payments}
    earlier = [e for e in history.earlier if e.payment_id not in own]
    earlier_by_account: dict[str, list[EarlierPayment]] = defaultdict(list)
    for e in earlier:
        if e.state not in (PaymentState.REJECTED, PaymentState.CANCELLED):  # never paid: no duplicate
            earlier_by_account[e.account].append(e)
    accounts = {p.account for p in batch.payments}
    payees = {(n, a) for n, a in history.payees if a not in accounts} | {
        (e.creditor_name, e.account) for e in earlier
    }
    for p in batch.payments:
        repeated = _repeated(p, earlier_by_account[p.account], controls.duplicate_window_days)
        if repeated is not None:
            if p.allow_duplicate:
                warned.append(
                    RowIssue(
                        p.row, p.payment_id, "duplicate", f"{repeated}; paid anyway: {p.allow_duplicate}"
                    )
                )
            else:
                held.append(RowIssue(p.row, p.payment_id, "duplicate", f"held: {repeated} (to pay it anyway, "
                                     "give allow_duplicate with the reason)"))  # fmt: skip
    holding = controls.new_payee_accounts == "hold"
    # Held for approval where an approver can look (the payment stays in the batch, which waits), else
    # held out of the batch; or only warned.
    flags = warned if not holding or controls.approval_available else held
    prefix = (HELD_FOR_APPROVAL if controls.approval_available else "held: ") if holding else ""
    for p, why in _payee_account_flags(batch.payments, payees):
        flags.append(RowIssue(p.row, p.payment_id, "payee_account", prefix + why))
    return held, warned


def _same_reference(a: str, b: str) -> bool:
    return re.sub(r"\s", "", a).upper() == re.sub(r"\s", "", b).upper()


def _repeated(p: Payment, earlier: list[EarlierPayment], window_days: int) -> str | None:
    """How `p` repeats one of the earlier payments to its account, or None."""
    reference = p.ocr or p.message
    amount = to_minor(p.amount, p.currency)
    for e in earlier:
        if reference and e.reference and _same_reference(reference, e.reference):
            why = f"the same account and reference {reference!r}"
        elif (e.amount_minor, e.currency) == (amount, p.currency) and abs(
            (p.execution_date - e.execution_date).days
        ) <= window_days:
            why = f"the same account and amount {p.amount:f} {p.currency} within {window_days} days"
        else:
            continue
        return f"repeats payment {e.payment_id} of batch {e.msg_id} ({e.state.value}): {why}"
    return None


def _payee_account_flags(
    payments: tuple[Payment, ...], payees: set[tuple[str, str]]
) -> list[tuple[Payment, str]]:
    names_of: dict[str, set[str]] = defaultdict(set)  # account → the creditor names it was paid under
    accounts_of: dict[str, set[str]] = defaultdict(set)  # normalised name → the accounts it was paid to
    for name, account in payees:
        names_of[account].add(name)
        accounts_of[normalised_name(name)].add(account)
    flags = []
    for p in payments:
        name = normalised_name(p.creditor_name)
        shown = f"{p.account_type} {mask(p.account)}"
        if p.account not in names_of:
            before = sorted(accounts_of.get(name, set()))
            if before:
                flags.append((p, f"changed payee account: {p.creditor_name} was paid before to "
                              f"{', '.join(mask(a) for a in before)}, now to {shown}"))  # fmt: skip
            else:
                flags.append((p, f"new payee account: the first payment to {shown}"))
        else:
            others = sorted(n for n in names_of[p.account] if normalised_name(n) != name)
            if others:
                flags.append(
                    (p, f"shared account: {shown} was paid before under another name ({', '.join(others)})")
                )
    return flags


def apply_controls(
    batch: PaymentBatch, report: ValidationReport, history: PayeeHistory, controls: Controls
) -> PaymentBatch | None:
    """The batch without the payments the checks hold, each other flagged payment carrying its flags
    (recorded with it in the register); every hold and flag added to `report`. None when all are held."""
    held, warned = check_payments(batch, history, controls)
    report.errors = sorted([*report.errors, *held], key=lambda e: (e.row, e.field))
    report.warnings += warned
    held_ids = {h.payment_id for h in held}
    flags: dict[str, list[str]] = defaultdict(list)
    for w in warned:
        flags[w.payment_id].append(f"{w.field}: {w.reason}")
    kept = tuple(
        p._replace(flags=(*p.flags, *flags[p.payment_id])) if p.payment_id in flags else p
        for p in batch.payments
        if p.payment_id not in held_ids
    )
    return PaymentBatch(batch.company, batch.source, kept) if kept else None

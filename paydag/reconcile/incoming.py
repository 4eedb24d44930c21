"""Incoming payments (camt.054 credit, in the register) against open bills by OCR, on pandas, and
the exceptions that carry forward from one run to the next."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from paydag.reconcile.settlement import CapturesUnreadable

if TYPE_CHECKING:
    from paydag.register import ExceptionsUpdate, Register
    from paydag.storage import RawStore


BILLS_READER = "reconcile-incoming"  # the raw store's `source` of a bills file it kept


class IncomingState(StrEnum):
    MATCHED = "matched"
    PARTIAL = "partial"
    OVERPAID = "overpaid"
    UNKNOWN_OCR = "unknown OCR"
    DUPLICATE_PAYMENT = "duplicate payment"


def read_bills(path: Path) -> pd.DataFrame:
    """Open bills as a CSV (bill_no, payment_reference, amount with a dot, e.g. 8450.00)."""
    from paydag.money import InvalidAmount, parse_amount, to_minor

    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise CapturesUnreadable(f"{path}: cannot be read: {exc}") from None
    missing = [c for c in ("bill_no", "payment_reference", "amount") if c not in raw]
    if missing:
        raise CapturesUnreadable(f"{path}: the columns {', '.join(missing)} are missing")
    try:
        minor = [to_minor(parse_amount(a), "SEK") for a in raw["amount"]]
    except InvalidAmount as exc:
        raise CapturesUnreadable(f"{path}: {exc}") from None
    return pd.DataFrame(
        {
            "bill_no": raw["bill_no"],
            "payment_reference": raw["payment_reference"].str.strip(),
            "amount_minor": minor,
        }
    )


def bills_csv(bills: pd.DataFrame) -> bytes:
    """Bills (bill_no, payment_reference, amount_minor) as the CSV `read_bills` reads: how a bills list
    that came from elsewhere (the synced PayEx bills) is kept beside the day's files."""
    from paydag.money import from_minor

    out = pd.DataFrame({"bill_no": bills["bill_no"], "payment_reference": bills["payment_reference"],
                        "amount": [f"{from_minor(int(m), 'SEK'):f}" for m in bills["amount_minor"]]})  # fmt: skip
    return out.to_csv(index=False).encode()


INCOMING_COLUMNS = [
    "id",
    "ocr",
    "amount_minor",
    "currency",
    "payer_name",
    "receiving_account",
    "booking_date",
    "file_id",
    "references",
]


def incoming_frame(payments: Iterable[object]) -> pd.DataFrame:
    """The register's incoming payments (its IncomingPayment records) as `reconcile_incoming` reads them:
    the columns are there when there are no payments too."""
    return pd.DataFrame([vars(p) for p in payments], columns=INCOMING_COLUMNS)


def _matching_reference(incoming: pd.DataFrame, ocr: pd.Series, bill_refs: pd.Series) -> pd.Series:
    """A payment's OCR, or where that names no bill another of its references that does (an invoice
    paid net of a credit note names both): each reference is tried, in the order of the file."""
    known = set(bill_refs.astype(str))
    refs = incoming[["id", "references"]].explode("references").dropna(subset=["references"])
    hits = (
        refs[refs["references"].astype(str).isin(known)].drop_duplicates("id").set_index("id")["references"]
    )
    found = incoming["id"].map(hits).astype("string")
    return ocr.where(ocr.isin(known) | found.isna(), found)


def reconcile_incoming(incoming: pd.DataFrame, bills: pd.DataFrame) -> pd.DataFrame:
    """Incoming payments (camt.054 credit) against bills by OCR = payment reference. Payments of one
    bill are taken in booking order: the one that completes it is matched, those before it partial,
    one that goes past it overpaid, and any after the bill was settled a duplicate payment."""
    keep = [c for c in ("id", "ocr", "amount_minor", "booking_date", "payer_name") if c in incoming]
    pay = incoming[keep].copy()
    pay["ocr"] = pay["ocr"].astype("string")
    pay["amount_minor"] = pay["amount_minor"].astype("int64")  # also when there are none
    if "references" in incoming and "id" in incoming:
        pay["ocr"] = _matching_reference(incoming, pay["ocr"], bills["payment_reference"])
    b = bills.rename(columns={"payment_reference": "ocr", "amount_minor": "bill_minor"})[
        ["ocr", "bill_no", "bill_minor"]
    ]
    b = b.assign(ocr=b["ocr"].astype("string")).drop_duplicates("ocr")
    joined = pay.merge(b, on="ocr", how="left").sort_values(["ocr", "booking_date"], kind="stable")
    known = joined["bill_no"].notna()
    paid_so_far = joined.groupby("ocr", dropna=False)["amount_minor"].cumsum()
    before = paid_so_far - joined["amount_minor"]
    bill = joined["bill_minor"]
    joined["state"] = np.select(
        [~known, before >= bill, paid_so_far == bill, paid_so_far < bill],
        [IncomingState.UNKNOWN_OCR.value, IncomingState.DUPLICATE_PAYMENT.value, IncomingState.MATCHED.value,
         IncomingState.PARTIAL.value],
        default=IncomingState.OVERPAID.value,
    )  # fmt: skip
    joined["outstanding_minor"] = (bill - paid_so_far).where(known)
    return joined.reset_index(drop=True)


def incoming_exceptions(report: pd.DataFrame) -> tuple[dict[str, tuple[str, dict[str, object]]], set[str]]:
    """Incoming payments a person must look at (by their register id), and the ones that now match."""
    is_open = report["state"] != IncomingState.MATCHED.value
    details = report[["id", "state", "ocr", "bill_no", "amount_minor", "booking_date", "outstanding_minor"]]
    items = {
        str(row.pop("id")): (str(row.pop("state")), row)
        for row in details[is_open].astype(object).where(details[is_open].notna(), None).to_dict("records")
    }
    return items, set(report.loc[~is_open, "id"].astype(str))


@dataclass(frozen=True)
class IncomingReconciliation:
    report: pd.DataFrame  # one row per incoming payment, with its state and the bill it paid
    update: ExceptionsUpdate  # the exceptions opened, still open and resolved by this run


def reconcile_incoming_payments(
    register: Register, bills: pd.DataFrame, *, company_id: str, bills_source: str, now: datetime
) -> IncomingReconciliation:
    """A company's incoming payments in the register against `bills`; payments that do not match
    stay (or become) open exceptions in the register, earlier ones that match now are resolved."""
    report = reconcile_incoming(incoming_frame(register.incoming_payments(company_id)), bills)
    items, matched = incoming_exceptions(report)
    update = register.update_exceptions(
        "incoming",
        open_items=items,
        matched_keys=matched,
        resolution=f"matched against {bills_source}",
        now=now,
    )
    return IncomingReconciliation(report, update)


def reconcile_incoming_recorded(
    register: Register,
    raw_store: RawStore,
    bills: pd.DataFrame,
    *,
    company_id: str,
    bills_source: str,
    now: datetime,
    bills_key: str,
) -> IncomingReconciliation:
    """`reconcile_incoming_payments`, then the run's record in the raw store (`bills_key`: the kept
    bills it read), written once the exceptions are committed, so that a replay reconciles where
    this run did."""
    from paydag.storage.journal import ReconciliationRun, record_run

    done = reconcile_incoming_payments(
        register, bills, company_id=company_id, bills_source=bills_source, now=now
    )
    record_run(raw_store, company_id, ReconciliationRun(BILLS_READER, (bills_key,), now, bills_source))
    return done

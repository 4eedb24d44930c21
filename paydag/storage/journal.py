"""The raw store's record of what happened that no file says: what was built from which payments, who
asked for and decided a batch's approval, the provider's answers (its file id, its status), and each run
of a reconciliation (what it read, the day it counted ages to, the moment).

Files alone cannot rebuild the register: a pain.001 does not carry the ERP's payment_ids (an unsafe id
becomes a hashed EndToEndId), nor who approved it, nor the provider's id for it. So every step that
changes a batch also keeps one small JSON record of it in the raw store, under the batch's company and
day, beside its file: `outgoing/{company}/{yyyy}/{mm}/{dd}/{sha256}-{MsgId}.{event}.json`. `paydag replay`
reads them back in order. A record is written after the register has committed the step, so a crash in
between loses only a record that the rerun of the step writes (the same step again is a no-op in the
register, and a record of the same content a no-op in the store).

A reconciliation's input is kept once per content and day, but the same captures export or bills file
can be reconciled again later that day, against other reports or payments, and a poll reconciles its
statements only once all of its files are applied: so each run keeps a record of its own
(`incoming/{owner}/…-{reconciliation}.run.json`, written after its exceptions are committed), and a
replay reconciles at each record, not at the input.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from paydag.storage.raw import Direction, RawObject, RawStore

SOURCE = "journal"  # the raw store's `source` of every batch record
RUN_SOURCE = "journal: reconciliation run"  # the raw store's `source` of every reconciliation run record


class BatchEvent(StrEnum):
    BUILT = "built"  # the file's payments as the register holds them (the file sits beside it)
    APPROVAL_REQUESTED = "approval-requested"
    DECIDED = "decided"  # approved, rejected or timed out
    SENT = "sent"  # the provider's file id
    STATUS = "status"  # the provider's processing status of the file


@dataclass(frozen=True)
class JournalRecord:
    company_id: str
    msg_id: str
    event: BatchEvent
    body: dict[str, Any]
    key: str
    stored_at: str


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def as_body(obj: object) -> dict[str, Any]:
    """A dataclass's or named tuple's fields as JSON values: Decimals as exact text, dates as ISO
    text, enums by value."""
    names = getattr(obj, "_fields", None) or [f.name for f in dataclasses.fields(obj)]  # type: ignore[arg-type]
    return {name: _plain(getattr(obj, name)) for name in names}


def record(
    raw_store: RawStore | None,
    company_id: str,
    msg_id: str,
    event: BatchEvent,
    body: dict[str, Any],
    *,
    at: datetime | None = None,
) -> RawObject | None:
    """Keep one record of a batch's step (nothing without a raw store: a file built alone)."""
    if raw_store is None:
        return None
    data = json.dumps({"msg_id": msg_id, "event": event.value, **body}, sort_keys=True, default=str).encode()
    return raw_store.put(
        Direction.OUTGOING, company_id, f"{msg_id}.{event.value}.json", data, source=SOURCE,
        content_type="application/json", at=at,
    )  # fmt: skip


def read_record(raw_store: RawStore, obj: RawObject) -> JournalRecord:
    body = json.loads(raw_store.read(obj.key))
    company_id = obj.key.split("/")[1]
    return JournalRecord(
        company_id, body.pop("msg_id"), BatchEvent(body.pop("event")), body, obj.key, obj.stored_at
    )


@dataclass(frozen=True)
class ReconciliationRun:
    """One run of a reconciliation, as a replay repeats it."""

    reconciliation: str  # which: reconcile-settlement, reconcile-incoming, reconcile-statement
    inputs: tuple[str, ...]  # the raw keys of what it read (a kept input, received statements)
    at: datetime  # the moment its exceptions were carried forward
    label: str  # what the exceptions name as the other side (reports, the bills' source)
    as_of: date | None = None  # the day ages were counted to (settlement)
    reports: tuple[str, ...] | None = None  # the curated reports reconciled (settlement; None: all)


def record_run(raw_store: RawStore, owner: str, run: ReconciliationRun) -> RawObject:
    """Keep the record of one reconciliation run (after its exceptions are committed)."""
    data = json.dumps(as_body(run), sort_keys=True).encode()
    return raw_store.put(
        Direction.INCOMING, owner, f"{run.reconciliation}.run.json", data, source=RUN_SOURCE,
        content_type="application/json", at=run.at,
    )  # fmt: skip


def read_run(raw_store: RawStore, obj: RawObject) -> ReconciliationRun:
    body = json.loads(raw_store.read(obj.key))
    return ReconciliationRun(
        reconciliation=body["reconciliation"], inputs=tuple(body["inputs"]),
        at=datetime.fromisoformat(body["at"]), label=body["label"],
        as_of=date.fromisoformat(body["as_of"]) if body.get("as_of") else None,
        reports=tuple(body["reports"]) if body.get("reports") is not None else None,
    )  # fmt: skip

"""Receiving return files exactly once: the steps the `poll-return-files` flow runs for a document.

download → raw store (`incoming/`, write-once) → register the file (unique by provider id and sha256)
→ classify by content → parse → apply to the register in one transaction (file PROCESSED) → hand
incoming payments to the rent ledger. Only then is the document acknowledged at the provider. A
crash anywhere is repaired by the next poll: the document is still unacknowledged, its bytes and
register rows are found again, and nothing is applied twice.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from paydag.formats.camt053 import parse_camt053
from paydag.formats.camt054 import parse_camt054
from paydag.formats.classify import FileKind, classify
from paydag.formats.pain002 import parse_pain002
from paydag.formats.xml import FormatError
from paydag.providers.channel import PaymentChannel, ReceivedDocument
from paydag.register import ApplyResult, FileState, Register
from paydag.storage import Direction, RawStore, RentLedgerDrop


class DocumentState(StrEnum):
    """Where a received document ended in this poll; every one of them may be acknowledged."""

    PROCESSED = FileState.PROCESSED.value  # applied to the register
    HANDED_OVER = FileState.HANDED_OVER.value  # kept for the flow that reads its kind
    QUARANTINED = FileState.QUARANTINED.value  # refused, with the reason
    ALREADY = "ALREADY"  # an earlier poll finished it (and died before acknowledging)


FINISHED = (FileState.PROCESSED, FileState.HANDED_OVER, FileState.QUARANTINED)  # nothing left to do here
SETTLEMENT_READER = "ingest-settlement-report"  # settlement reports that come this way are its input
SOURCE = "poll-return-files"  # the raw store's `source` of what a poll received


@dataclass(frozen=True)
class DocumentOutcome:
    document_id: str
    name: str
    kind: str
    state: DocumentState
    raw_key: str | None = None
    entries: int = 0  # statuses (pain.002) or transactions (camt.054) in the file
    changed: int = 0
    incoming: int = 0
    unmatched: tuple[str, ...] = ()
    rejected_or_returned: tuple[tuple[str, str, str | None, str | None], ...] = field(default_factory=tuple)
    reason: str | None = None
    warnings: tuple[str, ...] = ()  # read, but not as the standard says: how it was read instead
    ledger_copy: str | None = None


def new_documents(channel: PaymentChannel, company_provider_id: str) -> list[ReceivedDocument]:
    """Documents not yet acknowledged (some may be finished by a poll that died before its ack:
    `receive_document` recognises those)."""
    return [d for d in channel.list_received(company_provider_id) if not d.fetched]


def receive_document(
    document: ReceivedDocument,
    *,
    company_id: str,
    channel: PaymentChannel,
    raw_store: RawStore,
    register: Register,
    ledger: RentLedgerDrop,
) -> DocumentOutcome:
    name = document.name or f"{document.id}.xml"
    known = register.received_file(document.id)
    if known is not None and known.state in FINISHED:
        return DocumentOutcome(document.id, name, known.kind, DocumentState.ALREADY, known.raw_key)
    data = channel.download(document.id)
    return take_in(
        data, name, provider_id=document.id, company_id=company_id, raw_store=raw_store, register=register,
        ledger=ledger,
    )  # fmt: skip


def take_in(
    data: bytes,
    name: str,
    *,
    provider_id: str | None,
    company_id: str,
    raw_store: RawStore,
    register: Register,
    ledger: RentLedgerDrop | None,
    at: datetime | None = None,
) -> DocumentOutcome:
    """A received document's bytes: stored (at `at`: a replay's original time, so the same key),
    registered, classified, parsed, applied; incoming payments handed to the rent ledger (`ledger`
    None: a replay, whose ledger has them already)."""
    raw = raw_store.put(
        Direction.INCOMING, company_id, name, data, source=SOURCE, content_type="application/xml",
        provider_id=provider_id, at=at,
    )  # fmt: skip
    kind = classify(data, name)
    document_id = provider_id or raw.sha256
    received = register.record_received(
        company_id, raw=raw, name=name, kind=kind.label, provider_document_id=provider_id
    )
    if received.state in FINISHED:
        return DocumentOutcome(document_id, name, received.kind, DocumentState.ALREADY, received.raw_key)
    if kind.kind is FileKind.SETTLEMENT:  # kept and registered; the ingest flow validates and curates it
        register.hand_over(received.id, SETTLEMENT_READER)
        return DocumentOutcome(document_id, name, kind.label, DocumentState.HANDED_OVER, raw.key)
    warnings = list(kind.warnings)
    try:
        ledger_copy = None
        if kind.kind is FileKind.PAIN002:
            report = parse_pain002(data, name)
            entries = max(1, report.transaction_count)
            result = register.apply_status_report(received.id, report)
        elif kind.kind is FileKind.CAMT054:
            transactions = parse_camt054(data, name).transactions
            entries = len(transactions)
            warnings += [t.warning for t in transactions if t.warning]
            if kind.has_credit and ledger is not None:  # before the register commits: a crash in between
                # repeats an idempotent copy
                ledger_copy = ledger.deliver(name, data)
            result = register.apply_account_notification(received.id, transactions)
        elif kind.kind is FileKind.CAMT053:  # a statement: its entries book and record as a notification's do
            statement = parse_camt053(data, name)
            entries = len(statement.transactions)
            warnings += [t.warning for t in statement.transactions if t.warning]
            result = register.apply_statement(received.id, statement)
        else:
            raise FormatError(kind.reason or f"{name}: {kind.label} is not a return file")
    except FormatError as exc:
        _quarantine(raw_store, register, received.id, company_id, name, data, str(exc), at)
        return DocumentOutcome(
            document_id, name, kind.label, DocumentState.QUARANTINED, raw.key, reason=str(exc)
        )
    outcome = _outcome(document_id, name, kind.label, raw.key, result, ledger_copy, entries)
    return dataclasses.replace(outcome, warnings=tuple(warnings))


def _quarantine(
    raw_store: RawStore,
    register: Register,
    file_id: int,
    company_id: str,
    name: str,
    data: bytes,
    reason: str,
    at: datetime | None,
) -> None:
    raw_store.put(Direction.QUARANTINE, company_id, name, data, source=f"quarantined: {reason[:200]}", at=at)
    register.quarantine(file_id, reason)


def _outcome(
    document_id: str,
    name: str,
    kind: str,
    raw_key: str,
    result: ApplyResult,
    ledger_copy: str | None,
    entries: int,
) -> DocumentOutcome:
    return DocumentOutcome(
        document_id,
        name,
        kind,
        DocumentState.PROCESSED,
        raw_key,
        entries=entries,
        changed=result.changed,
        incoming=result.incoming,
        unmatched=tuple(result.unmatched),
        rejected_or_returned=tuple(result.rejected_or_returned),
        ledger_copy=ledger_copy,
    )


def acknowledge(channel: PaymentChannel, outcomes: list[DocumentOutcome]) -> list[str]:
    """Acknowledge the documents `receive_document` finished: an outcome exists only once the bytes
    are in the raw store and the register has committed (also for a document whose bytes came before
    under another id). The ids acknowledged."""
    ids = [o.document_id for o in outcomes if o.state in DocumentState]
    channel.acknowledge(ids)
    return ids

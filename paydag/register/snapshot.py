"""What the register holds about a set of files, row by row, keyed by what identifies each row outside
this database: two registers compared field by field (a replayed day against the live one).

Left out, and why: surrogate ids (each database numbers its own rows; a foreign key is shown as the
natural key it points to), the times a row was written or touched (`created_at`, `updated_at`, an
exception's `first_seen`/`last_seen`/`resolved_at`: when it was recorded, not what happened), where a
curated table or a Data Docs zip was written (`curated_path`, `docs_key`: a replay writes its own), an
incoming exception's key (the incoming payment's id: shown by the payment's file and position) and a
processed file's count of the payments it changed (files of one poll are applied concurrently, so which
came first, and found the change to make, is not fixed by the files).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from paydag.identifiers import mask
from paydag.register.database import RegisterBase
from paydag.register.models import (
    BatchRow,
    FileRow,
    IncomingPaymentRow,
    PaymentRow,
    ReconExceptionRow,
    SettlementReportRow,
    StatementRow,
)

Rows = dict[str, dict[tuple[str, ...], dict[str, Any]]]  # table → natural key → fields


@dataclass(frozen=True)
class Difference:
    table: str
    key: tuple[str, ...]
    field: str  # a column, or "(row)" when the row is on one side only
    live: object
    replayed: object

    def shown(self) -> dict[str, object]:
        """The difference as a row for a person: account numbers masked."""
        live, replayed = self.live, self.replayed
        if self.field in MASKED:
            live, replayed = (mask(str(v)) if v else v for v in (live, replayed))
        return {"table": self.table, "key": "/".join(self.key), "field": self.field, "live": live,
                "replayed": replayed}  # fmt: skip

    def describe(self) -> str:
        row = self.shown()
        return f"{row['table']} {row['key']} {row['field']}: {row['live']!r} → {row['replayed']!r}"


MASKED = {"account", "payer_account", "receiving_account"}  # never shown whole


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _fields(row: object, skip: Iterable[str]) -> dict[str, Any]:
    left_out = {"id", "created_at", "updated_at", *skip}
    return {c.key: _plain(getattr(row, c.key)) for c in row.__table__.columns if c.key not in left_out}  # type: ignore[attr-defined]


class Snapshots(RegisterBase):
    """The register's rows about some raw files, for a comparison."""

    def snapshot(self, raw_keys: Iterable[str], exceptions_since: datetime | None = None) -> Rows:
        """Files whose raw key is in `raw_keys`, the batches, payments, incoming payments, settlement
        reports and bank statements they carry, and the reconciliation exceptions (those last seen since
        `exceptions_since`, when given)."""
        keys = set(raw_keys)
        out: Rows = {t: {} for t in ("files", "batches", "payments", "incoming_payments", "settlement_reports",
                                      "statements", "recon_exceptions")}  # fmt: skip
        with self._tx() as s:
            files = {f.id: f for f in s.scalars(select(FileRow)) if f.raw_key in keys}
            for f in files.values():
                # a processed file's detail counts the payments it changed: which file of one poll came
                # first is up to its concurrent receivers, so that count is not the file's to keep
                out["files"][(f.direction, f.sha256)] = _fields(
                    f, ("detail",) if f.state == "PROCESSED" else ()
                )
            batches = {b.id: b for b in s.scalars(select(BatchRow)) if b.file_id in files}
            for b in batches.values():
                out["batches"][(b.msg_id,)] = _fields(b, ("file_id",)) | {"file": files[b.file_id].sha256}
            for p in s.scalars(select(PaymentRow).where(PaymentRow.batch_id.in_(list(batches)))):
                out["payments"][(p.company_id, p.payment_id)] = _fields(p, ("batch_id",)) | {
                    "batch": batches[p.batch_id].msg_id
                }
            incoming: dict[int, tuple[str, ...]] = {}
            for i in s.scalars(select(IncomingPaymentRow).where(IncomingPaymentRow.file_id.in_(list(files)))):
                key = (files[i.file_id].sha256, str(i.entry_no), str(i.tx_no))
                incoming[i.id] = key
                out["incoming_payments"][key] = _fields(i, ("file_id",))
            for r in s.scalars(
                select(SettlementReportRow).where(SettlementReportRow.file_id.in_(list(files)))
            ):
                out["settlement_reports"][(r.accounting_no,)] = _fields(
                    r, ("file_id", "curated_path", "docs_key")
                ) | {"file": files[r.file_id].sha256}
            for st in s.scalars(select(StatementRow).where(StatementRow.file_id.in_(list(files)))):
                out["statements"][(st.company_id, st.account, st.statement_key)] = _fields(
                    st, ("file_id",)
                ) | {
                    "file": files[st.file_id].sha256  # type: ignore[index]
                }
            query = select(ReconExceptionRow)
            if exceptions_since is not None:
                query = query.where(ReconExceptionRow.last_seen >= exceptions_since)
            for e in s.scalars(query):
                detail = json.loads(e.detail or "{}")
                if e.kind == "incoming":  # keyed by the payment's id in this database
                    paid = incoming.get(int(e.item_key))
                    if paid is None:
                        continue  # a payment of another day
                    key = (e.kind, *paid)
                else:
                    key = (e.kind, e.item_key)
                out["recon_exceptions"][key] = _fields(
                    e, ("item_key", "detail", "first_seen", "last_seen", "resolved_at")
                ) | {"detail": detail, "resolved": e.resolved_at is not None}
        return out


def differences(live: Rows, replayed: Rows) -> list[Difference]:
    """Every row on one side only, and every field that differs, table by table."""
    found: list[Difference] = []
    for table in live.keys() | replayed.keys():
        a, b = live.get(table, {}), replayed.get(table, {})
        for key in sorted(a.keys() | b.keys()):
            if key not in b:
                found.append(Difference(table, key, "(row)", "present", "missing"))
            elif key not in a:
                found.append(Difference(table, key, "(row)", "missing", "present"))
            else:
                for name in sorted(a[key].keys() | b[key].keys()):
                    if a[key].get(name) != b[key].get(name):
                        found.append(Difference(table, key, name, a[key].get(name), b[key].get(name)))
    return sorted(found, key=lambda d: (d.table, d.key, d.field))

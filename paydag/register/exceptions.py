"""Reconciliation exceptions, carried forward from run to run until they match."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from paydag.register.database import RegisterBase
from paydag.register.models import (
    ReconExceptionRow,
)


@dataclass(frozen=True)
class ReconException:
    kind: str
    item_key: str
    state: str
    detail: dict[str, object]
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    resolution: str | None


@dataclass(frozen=True)
class ExceptionsUpdate:
    opened: int
    still_open: int
    resolved: int


class ReconExceptions(RegisterBase):
    """What a person must look at, first seen, last seen, resolved."""

    def update_exceptions(
        self,
        kind: str,
        *,
        open_items: dict[str, tuple[str, dict[str, object]]],
        matched_keys: Iterable[str],
        resolution: str,
        now: datetime,
    ) -> ExceptionsUpdate:
        """Carry exceptions forward: `open_items` (key → state, detail) are opened or kept open (first
        seen stays); open exceptions whose key is now in `matched_keys` are resolved with `resolution`."""
        matched = set(matched_keys)
        opened = still = resolved = 0
        with self._tx() as s:
            existing = {
                r.item_key: r
                for r in s.scalars(select(ReconExceptionRow).where(ReconExceptionRow.kind == kind))
            }
            for key, (state, detail) in open_items.items():
                row = existing.get(key)
                if row is None or row.resolved_at is not None:
                    if row is None:
                        row = ReconExceptionRow(kind=kind, item_key=key, first_seen=now)
                        s.add(row)
                    row.resolved_at, row.resolution = None, None
                    opened += 1
                else:
                    still += 1
                row.state, row.detail, row.last_seen = state, json.dumps(detail, default=str), now
            for key, row in existing.items():
                if row.resolved_at is None and key in matched and key not in open_items:
                    row.resolved_at, row.resolution = now, resolution
                    resolved += 1
        return ExceptionsUpdate(opened=opened, still_open=still, resolved=resolved)

    def exceptions(self, kind: str, *, include_resolved: bool = False) -> list[ReconException]:
        with self._tx() as s:
            query = (
                select(ReconExceptionRow).where(ReconExceptionRow.kind == kind).order_by(ReconExceptionRow.id)
            )
            if not include_resolved:
                query = query.where(ReconExceptionRow.resolved_at.is_(None))
            return [
                ReconException(
                    r.kind,
                    r.item_key,
                    r.state,
                    json.loads(r.detail or "{}"),
                    r.first_seen,
                    r.last_seen,
                    r.resolved_at,
                    r.resolution,
                )
                for r in s.scalars(query)
            ]

"""Settlement reports: each AccountingNo curated once, or quarantined with the reason."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from paydag.register.database import RegisterBase
from paydag.register.models import (
    FileRow,
    FileState,
    ReportState,
    SettlementReportRow,
)


@dataclass(frozen=True)
class SettlementRecord:
    accounting_no: str
    version: str
    state: ReportState
    row_count: int
    sums_minor: dict[str, int]
    curated_path: str | None
    docs_key: str | None
    raw_key: str
    detail: str | None


class SettlementReports(RegisterBase):
    """The ingest lifecycle of Swedbank Pay's reports."""

    def settlement(self, accounting_no: str) -> SettlementRecord | None:
        with self._tx() as s:
            row = s.scalar(
                select(SettlementReportRow).where(SettlementReportRow.accounting_no == accounting_no)
            )
            return None if row is None else self._settlement_record(s, row)

    def settlements(self) -> list[SettlementRecord]:
        """Every report, oldest first."""
        with self._tx() as s:
            rows = s.scalars(select(SettlementReportRow).order_by(SettlementReportRow.id))
            return [self._settlement_record(s, r) for r in rows]

    def record_settlement(
        self,
        *,
        accounting_no: str,
        version: str,
        file_id: int,
        state: ReportState,
        row_count: int,
        sums_minor: dict[str, int],
        curated_path: str | None,
        docs_key: str | None,
        detail: str | None = None,
    ) -> SettlementRecord:
        """The outcome of an ingest, for its AccountingNo (a forced re-ingest replaces it). The file's
        state follows: PROCESSED when curated, QUARANTINED when not."""
        with self._tx() as s:
            row = s.scalar(
                select(SettlementReportRow)
                .where(SettlementReportRow.accounting_no == accounting_no)
                .with_for_update()
            )
            if row is None:
                row = SettlementReportRow(accounting_no=accounting_no)
                s.add(row)
            row.version, row.file_id, row.state, row.row_count = version, file_id, state, row_count
            row.sums_minor, row.curated_path, row.docs_key, row.detail = (
                json.dumps(sums_minor, sort_keys=True), curated_path, docs_key, detail,
            )  # fmt: skip
            file = s.get(FileRow, file_id)
            if file is not None:
                file.state = FileState.PROCESSED if state == ReportState.CURATED else FileState.QUARANTINED
                file.detail = detail
            s.flush()
            return self._settlement_record(s, row)

    @staticmethod
    def _settlement_record(s: Session, row: SettlementReportRow) -> SettlementRecord:
        file = s.get(FileRow, row.file_id)
        return SettlementRecord(
            accounting_no=row.accounting_no,
            version=row.version,
            state=ReportState(row.state),
            row_count=row.row_count,
            sums_minor=json.loads(row.sums_minor),
            curated_path=row.curated_path,
            docs_key=row.docs_key,
            raw_key=file.raw_key if file else "",
            detail=row.detail,
        )

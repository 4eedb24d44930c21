"""Bank statements (camt.053): each Stmt's balances and dates, kept once, for balance continuity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from paydag.formats.camt053 import Statement
from paydag.register.database import RegisterBase
from paydag.register.models import StatementRow


@dataclass(frozen=True)
class StatementRecord:
    company_id: str
    account: str
    statement_key: str
    currency: str | None
    opening_minor: int | None
    closing_minor: int | None
    opening_date: date | None
    closing_date: date | None
    file_id: int | None


def statement_key(statement: Statement) -> str:
    """The Stmt's Id, else its account and balance dates: what makes the same statement sent twice one."""
    return (statement.id or f"{statement.account}:{statement.opening_date}..{statement.closing_date}")[:128]


def record_statements(s: Session, company_id: str, file_id: int | None, statements: list[Statement]) -> None:
    """Keep each statement once (inside the caller's transaction)."""
    for st in statements:
        if not st.account:
            continue
        key = statement_key(st)
        found = s.scalar(
            select(StatementRow).where(
                StatementRow.company_id == company_id, StatementRow.account == st.account,
                StatementRow.statement_key == key,
            )
        )  # fmt: skip
        if found is None:
            s.add(
                StatementRow(
                    company_id=company_id, file_id=file_id, account=st.account, statement_key=key, currency=st.currency,
                    opening_minor=st.opening_minor, closing_minor=st.closing_minor,
                    opening_date=date.fromisoformat(st.opening_date) if st.opening_date else None,
                    closing_date=date.fromisoformat(st.closing_date) if st.closing_date else None,
                )
            )  # fmt: skip
            s.flush()


class Statements(RegisterBase):
    """The statements of a company's accounts."""

    def record_statements(
        self, company_id: str, statements: list[Statement], file_id: int | None = None
    ) -> None:
        with self._tx() as s:
            record_statements(s, company_id, file_id, statements)

    def statements(self, company_id: str, account: str | None = None) -> list[StatementRecord]:
        """Oldest first (by closing date, then opening date)."""
        with self._tx() as s:
            query = select(StatementRow).where(StatementRow.company_id == company_id)
            if account:
                query = query.where(StatementRow.account == account)
            rows = s.scalars(
                query.order_by(StatementRow.closing_date, StatementRow.opening_date, StatementRow.id)
            )
            return [
                StatementRecord(r.company_id, r.account, r.statement_key, r.currency, r.opening_minor, r.closing_minor,
                                r.opening_date, r.closing_date, r.file_id)
                for r in rows
            ]  # fmt: skip

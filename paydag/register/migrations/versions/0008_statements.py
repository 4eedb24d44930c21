"""bank statements: each camt.053 Stmt's balances and dates, for the statement reconciliation

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import paydag.register.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("company_id", sa.String(64), sa.ForeignKey("companies.id"), nullable=False),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("files.id"), nullable=True),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("statement_key", sa.String(128), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("opening_minor", sa.BigInteger(), nullable=True),
        sa.Column("closing_minor", sa.BigInteger(), nullable=True),
        sa.Column("opening_date", sa.Date(), nullable=True),
        sa.Column("closing_date", sa.Date(), nullable=True),
        sa.Column("created_at", paydag.register.models.UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "company_id",
            "account",
            "statement_key",
            name=op.f("uq_statements_company_id_account_statement_key"),
        ),
    )
    op.create_index("ix_statements_company_id", "statements", ["company_id"])


def downgrade() -> None:
    op.drop_index("ix_statements_company_id", table_name="statements")
    op.drop_table("statements")

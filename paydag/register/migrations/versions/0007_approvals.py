"""approval before sending: the approvals table, and state columns wide enough for AWAITING_APPROVAL

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:35:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import paydag.register.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_STATES = {"batches": ["state"], "payments": ["state"], "status_events": ["from_state", "to_state"]}


def _widen(to: int, was: int) -> None:
    # On SQLite each table is rebuilt (Register.upgrade turns its foreign keys off meanwhile).
    for table, columns in _STATES.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(to), existing_type=sa.String(was))


def upgrade() -> None:
    _widen(24, 16)
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batches.id"), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("flow_run_id", sa.String(64), nullable=True),
        sa.Column("at", paydag.register.models.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_approvals_batch_id", "approvals", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_approvals_batch_id", table_name="approvals")
    op.drop_table("approvals")
    _widen(16, 24)

"""claims: one poll and one send per company at a time, as leases that heal

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import paydag.register.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("work", sa.String(length=16), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=True),
        sa.Column("token", sa.String(length=32), nullable=True),
        sa.Column("acquired_at", paydag.register.models.UTCDateTime(), nullable=True),
        sa.Column("renewed_at", paydag.register.models.UTCDateTime(), nullable=True),
        sa.Column("expires_at", paydag.register.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("work", "company_id", name=op.f("pk_claims")),
    )
    op.create_table(
        "claim_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work", sa.String(length=16), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=True),
        sa.Column("by", sa.String(length=255), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", paydag.register.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_events")),
    )
    op.create_index("ix_claim_events_work_company_id", "claim_events", ["work", "company_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_claim_events_work_company_id", table_name="claim_events")
    op.drop_table("claim_events")
    op.drop_table("claims")

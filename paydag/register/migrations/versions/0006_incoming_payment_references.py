"""incoming payments keep every creditor reference of their TxDtls (a payment net of a credit note
names several), so that matching can try each

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incoming_payments") as batch:
        batch.add_column(sa.Column("references", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incoming_payments") as batch:
        batch.drop_column("references")

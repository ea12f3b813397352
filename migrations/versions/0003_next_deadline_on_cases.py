"""The earliest pending deadline on each case, so the queue can sort by it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:38:39.886639
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_cases_next_deadline", ["next_deadline_at", "id"], unique=False)
    op.execute(
        "UPDATE cases SET next_deadline_at = (SELECT min(due_at) FROM deadlines "
        "WHERE deadlines.case_id = cases.id AND deadlines.state = 'pending')"
    )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_next_deadline")
        batch_op.drop_column("next_deadline_at")

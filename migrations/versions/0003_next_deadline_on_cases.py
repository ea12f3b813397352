"""The earliest pending deadline on each case, so the queue can sort by it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:38:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# A case with no pending deadline sorts after every real one (see portal.domain.types.NO_DEADLINE).
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_deadline_at", sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    sentinel = NO_DEADLINE.replace(tzinfo=None) if bind.dialect.name == "sqlite" else NO_DEADLINE
    bind.execute(
        sa.text(
            "UPDATE cases SET next_deadline_at = coalesce((SELECT min(due_at) FROM deadlines "
            "WHERE deadlines.case_id = cases.id AND deadlines.state = 'pending'), :none)"
        ).bindparams(sa.bindparam("none", type_=sa.DateTime(timezone=True))),
        {"none": sentinel},
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column("next_deadline_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index("ix_cases_next_deadline", ["next_deadline_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_next_deadline")
        batch_op.drop_column("next_deadline_at")

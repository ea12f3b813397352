"""Stored work claimed one way: job leases and attempts, stale-tracking marks as work, failed deadlines.

Revision ID: 0014
Revises: 0015
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0015"
branch_labels = None
depends_on = None

# Deadlines that gave up used to end as "cancelled" after this many attempts.
OLD_MAX_ATTEMPTS = 5


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index("ix_jobs_status_due", ["status", "due_at"], unique=False)
    op.execute("UPDATE jobs SET due_at = created_at")
    # A job that was running in a web worker's thread when this release went out will never finish.
    op.execute(
        "UPDATE jobs SET status = 'failed', error = 'interrupted by an upgrade; start it again' "
        "WHERE status IN ('queued', 'running')"
    )
    with op.batch_alter_table("tracking_stale_marks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=16), server_default="raised", nullable=False))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_tracking_stale_marks_state_next", ["state", "next_attempt_at"], unique=False
        )
    op.execute("UPDATE tracking_stale_marks SET next_attempt_at = raised_at")
    op.execute(
        "UPDATE deadlines SET state = 'failed' "
        f"WHERE state = 'cancelled' AND last_error IS NOT NULL AND attempts >= {OLD_MAX_ATTEMPTS}"
    )


def downgrade() -> None:
    op.execute("UPDATE deadlines SET state = 'cancelled' WHERE state = 'failed'")
    with op.batch_alter_table("tracking_stale_marks", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_stale_marks_state_next")
        batch_op.drop_column("last_error")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("state")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_status_due")
        batch_op.drop_column("attempts")
        batch_op.drop_column("due_at")

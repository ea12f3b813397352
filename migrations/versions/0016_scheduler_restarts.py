"""Scheduler restarts: how often the launcher restarted a scheduler, and how its last run ended.

Revision ID: 0016
Revises: 0014
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduler_heartbeats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("restarts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_exit_code", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_exit_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scheduler_heartbeats", schema=None) as batch_op:
        batch_op.drop_column("last_exit_at")
        batch_op.drop_column("last_exit_code")
        batch_op.drop_column("restarts")

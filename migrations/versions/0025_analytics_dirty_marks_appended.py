"""Analytics dirty marks are appended (an id per mark) instead of one row per (day, market).

Two transactions marking the same day waited for each other on the unique key, and deadlocked when
they marked days in different orders (two schedulers firing deadlines of one market).

Revision ID: 0025
Revises: 0018
Create Date: 2026-11-30 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0018"
branch_labels = None
depends_on = None


def _recreate(with_id: bool) -> None:
    op.execute("CREATE TABLE analytics_dirty_copy AS SELECT DISTINCT day, market_id FROM analytics_dirty")
    op.drop_table("analytics_dirty")
    columns: list[sa.Column[object]] = [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
    ]
    if with_id:
        op.create_table(
            "analytics_dirty",
            sa.Column("id", sa.Integer(), nullable=False),
            *columns,
            sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_dirty")),
        )
        op.create_index("ix_analytics_dirty_day_market_id", "analytics_dirty", ["day", "market_id"])
    else:
        op.create_table(
            "analytics_dirty",
            *columns,
            sa.PrimaryKeyConstraint("day", "market_id", name=op.f("pk_analytics_dirty")),
        )
    op.execute(
        "INSERT INTO analytics_dirty (day, market_id, marked_at) "
        "SELECT day, market_id, CURRENT_TIMESTAMP FROM analytics_dirty_copy"
    )
    op.drop_table("analytics_dirty_copy")


def upgrade() -> None:
    _recreate(with_id=True)


def downgrade() -> None:
    _recreate(with_id=False)

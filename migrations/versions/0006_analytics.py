"""Analytics aggregates.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_MONEY = ("revenue", "refund_full", "refund_returnless", "refund_partial", "refund_coupon")
_MORE_COUNTS = (
    "deadlines",
    "deadlines_missed",
    "disputes_opened",
    "disputes_won",
    "disputes_lost",
    "shipments",
    "exceptions",
)


def upgrade() -> None:
    op.create_table(
        "analytics_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in ("orders",)],
        sa.Column("revenue", sa.Numeric(precision=18, scale=2), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in ("cases", "auto_cases")],
        *[sa.Column(name, sa.Numeric(precision=18, scale=2), nullable=False) for name in _MONEY[1:]],
        *[sa.Column(name, sa.Integer(), nullable=False) for name in _MORE_COUNTS],
        sa.PrimaryKeyConstraint(
            "day", "market_id", "dim", "key", "currency", name=op.f("pk_analytics_daily")
        ),
    )
    with op.batch_alter_table("analytics_daily", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_daily_dim_day", ["dim", "day", "market_id"], unique=False)
    op.create_table(
        "analytics_durations",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "market_id", "metric", "bucket", name=op.f("pk_analytics_durations")),
    )
    op.create_table(
        "analytics_dirty",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", "market_id", name=op.f("pk_analytics_dirty")),
    )
    # Existing cases and orders: every day they touch is out of date until the scheduler builds it.
    if op.get_bind().dialect.name == "postgresql":
        day = "CAST(({col} AT TIME ZONE 'UTC') AS DATE)"
    else:
        day = "DATE({col})"
    op.execute(
        "INSERT INTO analytics_dirty (day, market_id, marked_at) "
        f"SELECT DISTINCT {day.format(col='opened_at')}, market_id, CURRENT_TIMESTAMP FROM cases "
        f"UNION SELECT DISTINCT {day.format(col='placed_at')}, market_id, CURRENT_TIMESTAMP FROM orders"
    )


def downgrade() -> None:
    op.drop_table("analytics_dirty")
    op.drop_table("analytics_durations")
    with op.batch_alter_table("analytics_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_daily_dim_day")
    op.drop_table("analytics_daily")

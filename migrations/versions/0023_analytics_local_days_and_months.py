"""Analytics by market-local days, with monthly rollups, agent histograms and more counts.

The rollups are derived data: they are dropped, made again in their new shape, and every day that has
a case or an order is marked out of date (in the market's zone that is the UTC day or a neighbour), so
the scheduler rebuilds them.

Revision ID: 0023
Revises: 0011
Create Date: 2026-11-30 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0019"
branch_labels = None
depends_on = None

_MONEY = ("revenue", "refund_full", "refund_returnless", "refund_partial", "refund_coupon")
_COUNTS = (
    "orders",
    "cases",
    "auto_cases",
    "deadlines",
    "deadlines_missed",
    "disputes_opened",
    "disputes_won",
    "disputes_lost",
    "shipments",
    "exceptions",
)
_NEW_COUNTS = ("cases_refunded", "cases_missed", "cases_disputed", "targets", "targets_missed")


def _sums_table(name: str, when: str, counts: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column(when, sa.Date(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in counts],
        *[sa.Column(m, sa.Numeric(precision=18, scale=2), nullable=False) for m in _MONEY],
        sa.PrimaryKeyConstraint(when, "market_id", "dim", "key", "currency", name=op.f(f"pk_{name}")),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(f"ix_{name}_dim_{when}", ["dim", when, "market_id"], unique=False)


def _durations_table(name: str, when: str, with_key: bool) -> None:
    op.create_table(
        name,
        sa.Column(when, sa.Date(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        *([sa.Column("key", sa.String(length=16), server_default="", nullable=False)] if with_key else []),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            when, "market_id", "metric", *(["key"] if with_key else []), "bucket", name=op.f(f"pk_{name}")
        ),
    )


def _drop(name: str, index: str | None) -> None:
    if index:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(index)
    op.drop_table(name)


def _mark_every_day(neighbours: bool) -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    shifts = (-1, 0, 1) if neighbours else (0,)
    selects = []
    for column, table in (("opened_at", "cases"), ("placed_at", "orders")):
        for shift in shifts:
            if postgresql:
                day = f"CAST(({column} AT TIME ZONE 'UTC') AS DATE) + {shift}"
            else:
                day = f"DATE({column}, '{shift:+d} day')"
            selects.append(f"SELECT DISTINCT {day}, market_id, CURRENT_TIMESTAMP FROM {table}")
    op.execute("DELETE FROM analytics_dirty")
    op.execute("INSERT INTO analytics_dirty (day, market_id, marked_at) " + " UNION ".join(selects))


def upgrade() -> None:
    _drop("analytics_daily", "ix_analytics_daily_dim_day")
    _drop("analytics_durations", None)
    _sums_table("analytics_daily", "day", (*_COUNTS, *_NEW_COUNTS))
    _sums_table("analytics_monthly", "month", (*_COUNTS, *_NEW_COUNTS))
    _durations_table("analytics_durations", "day", with_key=True)
    _durations_table("analytics_durations_monthly", "month", with_key=True)
    _mark_every_day(neighbours=True)


def downgrade() -> None:
    _drop("analytics_durations_monthly", None)
    _drop("analytics_durations", None)
    _drop("analytics_monthly", "ix_analytics_monthly_dim_month")
    _drop("analytics_daily", "ix_analytics_daily_dim_day")
    _sums_table("analytics_daily", "day", _COUNTS)
    _durations_table("analytics_durations", "day", with_key=False)
    _mark_every_day(neighbours=False)

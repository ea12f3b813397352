"""Analytics dekad rollups (days 1-10, 11-20 and 21 to the month's end), filled from the daily ones.

A period that starts or ends mid-month read up to a month of daily rows at either end; with dekads it
reads at most ten days per end and a dekad or two. The new rows are the sums of the daily rows already
there, so figures stay right from the first request after the upgrade.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

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
    "cases_refunded",
    "cases_missed",
    "cases_disputed",
    "targets",
    "targets_missed",
)
_MONEY = ("revenue", "refund_full", "refund_returnless", "refund_partial", "refund_coupon")


def _dekad_of_day() -> str:
    """SQL for the first day of the dekad holding `day`."""
    if op.get_bind().dialect.name == "postgresql":
        month = "CAST(date_trunc('month', day) AS DATE)"
        day_of_month = "EXTRACT(DAY FROM day)"
        return (
            f"CASE WHEN {day_of_month} <= 10 THEN {month} WHEN {day_of_month} <= 20 THEN {month} + 10 "
            f"ELSE {month} + 20 END"
        )
    day_of_month = "CAST(strftime('%d', day) AS INTEGER)"
    return (
        f"CASE WHEN {day_of_month} <= 10 THEN date(day, 'start of month') "
        f"WHEN {day_of_month} <= 20 THEN date(day, 'start of month', '+10 days') "
        "ELSE date(day, 'start of month', '+20 days') END"
    )


def upgrade() -> None:
    op.create_table(
        "analytics_dekads",
        sa.Column("dekad", sa.Date(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in _COUNTS],
        *[sa.Column(m, sa.Numeric(precision=18, scale=2), nullable=False) for m in _MONEY],
        sa.PrimaryKeyConstraint(
            "dekad", "market_id", "dim", "key", "currency", name=op.f("pk_analytics_dekads")
        ),
    )
    with op.batch_alter_table("analytics_dekads", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_dekads_dim_dekad", ["dim", "dekad", "market_id"], unique=False)
    op.create_table(
        "analytics_durations_dekads",
        sa.Column("dekad", sa.Date(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=16), server_default="", nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "dekad", "market_id", "metric", "key", "bucket", name=op.f("pk_analytics_durations_dekads")
        ),
    )
    dekad = _dekad_of_day()
    measures = ", ".join((*_COUNTS, *_MONEY))
    sums = ", ".join(f"SUM({m})" for m in (*_COUNTS, *_MONEY))
    op.execute(
        f"INSERT INTO analytics_dekads (dekad, market_id, dim, key, currency, {measures}) "
        f"SELECT {dekad}, market_id, dim, key, currency, {sums} FROM analytics_daily "
        f"GROUP BY {dekad}, market_id, dim, key, currency"
    )
    op.execute(
        "INSERT INTO analytics_durations_dekads (dekad, market_id, metric, key, bucket, cases) "
        f"SELECT {dekad}, market_id, metric, key, bucket, SUM(cases) FROM analytics_durations "
        f"GROUP BY {dekad}, market_id, metric, key, bucket"
    )


def downgrade() -> None:
    op.drop_table("analytics_durations_dekads")
    with op.batch_alter_table("analytics_dekads", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_dekads_dim_dekad")
    op.drop_table("analytics_dekads")

"""Deadline rules, business hours and escalation.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deadline_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=True),
        sa.Column("case_type", sa.Enum("refund_only", "return_and_refund", "exchange", "not_received",
                                       "delivery_failed", "dispute", name="casetype", native_enum=False,
                                       create_constraint=False, length=32), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("clock", sa.Enum("calendar", "business", name="deadlineclock", native_enum=False,
                                   create_constraint=False, length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["market_id"], ["markets.id"],
                                name=op.f("fk_deadline_settings_market_id_markets")),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"],
                                name=op.f("fk_deadline_settings_updated_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_settings")),
    )
    with op.batch_alter_table("deadline_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deadline_settings_market_id"), ["market_id"], unique=False)
    op.create_table(
        "business_calendars",
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("opens", sa.String(length=5), nullable=False),
        sa.Column("closes", sa.String(length=5), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("public_holidays", sa.Boolean(), nullable=False),
        sa.Column("closed_days", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["market_id"], ["markets.id"],
                                name=op.f("fk_business_calendars_market_id_markets")),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"],
                                name=op.f("fk_business_calendars_updated_by_id_users")),
        sa.PrimaryKeyConstraint("market_id", name=op.f("pk_business_calendars")),
    )
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        clock = sa.Enum("calendar", "business", name="deadlineclock", native_enum=False,
                        create_constraint=False, length=32)
        batch_op.add_column(sa.Column("clock", clock, server_default="calendar", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("deadlines", schema=None) as batch_op:
        batch_op.drop_column("clock")
    op.drop_table("business_calendars")
    with op.batch_alter_table("deadline_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deadline_settings_market_id"))
    op.drop_table("deadline_settings")

"""Marketplace intake: notification inbox, newest state per marketplace object, sync cursors, command outbox.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "marketplace_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.String(length=80), nullable=False),
        sa.Column("type", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("processed_at", TZ, nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_marketplace_events_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_events")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_marketplace_events_notification_id")),
    )
    op.create_index(
        "ix_marketplace_events_state_next", "marketplace_events", ["state", "next_attempt_at"], unique=False
    )

    op.create_table(
        "marketplace_entities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("return_type", sa.String(length=32), nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_marketplace_entities_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_marketplace_entities_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_entities")),
        sa.UniqueConstraint("kind", "external_id", name=op.f("uq_marketplace_entities_kind_external_id")),
    )
    op.create_index(
        op.f("ix_marketplace_entities_case_id"), "marketplace_entities", ["case_id"], unique=False
    )

    op.create_table(
        "marketplace_sync_cursors",
        sa.Column("shop_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("synced_until", sa.BigInteger(), nullable=False),
        sa.Column("last_run_at", TZ, nullable=True),
        sa.Column("last_success_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("repaired_total", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "resource", name=op.f("pk_marketplace_sync_cursors")),
    )

    op.create_table(
        "marketplace_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("return_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_marketplace_commands_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketplace_commands")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_marketplace_commands_idempotency_key")),
    )
    op.create_index(
        op.f("ix_marketplace_commands_case_id"), "marketplace_commands", ["case_id"], unique=False
    )
    op.create_index(
        "ix_marketplace_commands_state_next",
        "marketplace_commands",
        ["state", "next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_marketplace_commands_state_next", table_name="marketplace_commands")
    op.drop_index(op.f("ix_marketplace_commands_case_id"), table_name="marketplace_commands")
    op.drop_table("marketplace_commands")
    op.drop_table("marketplace_sync_cursors")
    op.drop_index(op.f("ix_marketplace_entities_case_id"), table_name="marketplace_entities")
    op.drop_table("marketplace_entities")
    op.drop_index("ix_marketplace_events_state_next", table_name="marketplace_events")
    op.drop_table("marketplace_events")

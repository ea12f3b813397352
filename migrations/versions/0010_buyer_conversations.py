"""Buyer conversations: delivery state of messages, buyer contact details, unread replies, templates, macros.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("external_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("subject", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", TZ, nullable=True))
        batch.add_column(sa.Column("delivered_at", TZ, nullable=True))
        batch.add_column(sa.Column("read_at", TZ, nullable=True))
        batch.add_column(sa.Column("seen_at", TZ, nullable=True))
        batch.create_unique_constraint(op.f("uq_messages_idempotency_key"), ["idempotency_key"])
        batch.create_unique_constraint(op.f("uq_messages_channel_external_id"), ["channel", "external_id"])
        batch.create_index("ix_messages_status_next_attempt", ["status", "next_attempt_at"])
    # Every message gets its key; queued ones are due now.
    op.execute("UPDATE messages SET idempotency_key = 'msg-' || CAST(id AS VARCHAR(20))")
    op.execute("UPDATE messages SET next_attempt_at = created_at WHERE status = 'queued'")
    # Inbound messages recorded before today count as seen.
    op.execute("UPDATE messages SET seen_at = created_at WHERE direction = 'inbound'")

    with op.batch_alter_table("buyers") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("marketplace_user_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("conversation_id", sa.String(length=64), nullable=True))
        batch.create_index(op.f("ix_buyers_marketplace_user_id"), ["marketplace_user_id"])
        batch.create_index(op.f("ix_buyers_conversation_id"), ["conversation_id"])
    # Marketplace buyers were known only by their pseudonym "tts_<user id>".
    op.execute(
        "UPDATE buyers SET marketplace_user_id = SUBSTR(pseudonym, 5) "
        "WHERE pseudonym LIKE 'tts\\_%' ESCAPE '\\'"
    )

    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("unread_messages", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_buyer_message_at", TZ, nullable=True))
        batch.add_column(sa.Column("delivery_problem", sa.String(length=300), nullable=True))
        batch.create_index("ix_cases_last_buyer_message", ["last_buyer_message_at", "id"])

    op.create_table(
        "message_template_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("comment", sa.String(length=200), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_message_template_versions_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_template_versions")),
        sa.UniqueConstraint(
            "purpose", "language", "number", name=op.f("uq_message_template_versions_purpose_language_number")
        ),
    )
    op.create_table(
        "macros",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_macros_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_macros")),
        sa.UniqueConstraint("name", name=op.f("uq_macros_name")),
    )


def downgrade() -> None:
    op.drop_table("macros")
    op.drop_table("message_template_versions")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_last_buyer_message")
        batch.drop_column("delivery_problem")
        batch.drop_column("last_buyer_message_at")
        batch.drop_column("unread_messages")
    with op.batch_alter_table("buyers") as batch:
        batch.drop_index(op.f("ix_buyers_conversation_id"))
        batch.drop_index(op.f("ix_buyers_marketplace_user_id"))
        batch.drop_column("conversation_id")
        batch.drop_column("marketplace_user_id")
        batch.drop_column("email")
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_status_next_attempt")
        batch.drop_constraint(op.f("uq_messages_channel_external_id"), type_="unique")
        batch.drop_constraint(op.f("uq_messages_idempotency_key"), type_="unique")
        for column in (
            "seen_at", "read_at", "delivered_at", "next_attempt_at", "subject", "external_id",
            "idempotency_key",
        ):
            batch.drop_column(column)

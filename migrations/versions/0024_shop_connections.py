"""Shop connections: each shop's marketplace app, encrypted tokens, authorisation state and token refresh.

Revision ID: 0024
Revises: 0020
Create Date: 2026-11-30 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0020"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shop_connections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("shop_id", sa.Integer(),
                  sa.ForeignKey("shops.id", name="fk_shop_connections_shop_id_shops"), nullable=False),
        sa.Column("app_key", sa.String(64), nullable=False),
        sa.Column("app_secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", TZ, nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("access_expires_at", TZ, nullable=True),
        sa.Column("refresh_expires_at", TZ, nullable=True),
        sa.Column("open_id", sa.String(64), nullable=True),
        sa.Column("seller_name", sa.String(120), nullable=True),
        sa.Column("shop_cipher", sa.String(128), nullable=True),
        sa.Column("region", sa.String(8), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_changed_at", TZ, nullable=True),
        sa.Column("connected_at", TZ, nullable=True),
        sa.Column("expires_warning_at", TZ, nullable=True),
        sa.Column("authorisation_expires_at", TZ, nullable=True),
        sa.Column("auth_state_hash", sa.String(64), nullable=True),
        sa.Column("auth_state_expires_at", TZ, nullable=True),
        sa.Column("auth_user_id", sa.Integer(),
                  sa.ForeignKey("users.id", name="fk_shop_connections_auth_user_id_users"), nullable=True),
        sa.Column("last_tested_at", TZ, nullable=True),
        sa.Column("last_test_error", sa.Text(), nullable=True),
        sa.Column("refresh_state", sa.String(16), nullable=False),
        sa.Column("refresh_due_at", TZ, nullable=True),
        sa.Column("refresh_attempts", sa.Integer(), nullable=False),
        sa.Column("refresh_error", sa.Text(), nullable=True),
        sa.Column("last_refreshed_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("shop_id", name="uq_shop_connections_shop_id"),
        sa.UniqueConstraint("auth_state_hash", name="uq_shop_connections_auth_state_hash"),
    )
    op.create_index("ix_shop_connections_refresh", "shop_connections", ["refresh_state", "refresh_due_at"])


def downgrade() -> None:
    op.drop_index("ix_shop_connections_refresh", table_name="shop_connections")
    op.drop_table("shop_connections")

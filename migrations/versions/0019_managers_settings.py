"""Business hours with several ranges a day and notes on closed days; policy publishing with approval.

Revision ID: 0019
Revises: 0011
Create Date: 2026-11-30 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("business_calendars", schema=None) as batch_op:
        batch_op.add_column(sa.Column("week", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("closed_day_notes", sa.JSON(), nullable=True))
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requires_approval", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        "policy_publish_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=80), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("status", sa.Enum("pending", "approved", "rejected", "withdrawn",
                                    name="publishrequeststatus", native_enum=False,
                                    create_constraint=False, length=32), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["policy_versions.id"]),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_policy_publish_requests_policy_id", "policy_publish_requests", ["policy_id"])


def downgrade() -> None:
    op.drop_index("ix_policy_publish_requests_policy_id", table_name="policy_publish_requests")
    op.drop_table("policy_publish_requests")
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_column("requires_approval")
    with op.batch_alter_table("business_calendars", schema=None) as batch_op:
        batch_op.drop_column("closed_day_notes")
        batch_op.drop_column("week")

"""Return-shipping insurance on orders and its claims, prepaid return labels, detected CSV encodings.

Revision ID: 0020
Revises: 0023
Create Date: 2026-11-30 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("return_insurance", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("return_insurer", sa.String(length=80), nullable=True))
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("label_name", sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_returns_label_sha256_attachments"), "attachments", ["label_sha256"], ["sha256"]
        )
    with op.batch_alter_table("import_batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("encoding_detected", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "insurance_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("insurer", sa.String(length=80), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_insurance_claims_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["return_id"], ["returns.id"], name=op.f("fk_insurance_claims_return_id_returns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_claims")),
        sa.UniqueConstraint("return_id", name=op.f("uq_insurance_claims_return_id")),
    )
    with op.batch_alter_table("insurance_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_insurance_claims_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("insurance_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insurance_claims_case_id"))
    op.drop_table("insurance_claims")
    with op.batch_alter_table("import_batches", schema=None) as batch_op:
        batch_op.drop_column("encoding_detected")
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_returns_label_sha256_attachments"), type_="foreignkey")
        batch_op.drop_column("label_name")
        batch_op.drop_column("label_sha256")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("return_insurer")
        batch_op.drop_column("return_insurance")

"""Carrier tracking and CSV imports: unmatched tracking updates, stale-tracking marks, import batches.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "unmatched_tracking_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("applied_at", TZ, nullable=True),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_unmatched_tracking_updates_shipment_id_shipments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmatched_tracking_updates")),
    )
    op.create_index(
        "ix_unmatched_tracking_updates_number",
        "unmatched_tracking_updates",
        ["tracking_number", "applied_at"],
        unique=False,
    )

    op.create_table(
        "tracking_stale_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("since", TZ, nullable=False),
        sa.Column("raised_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipments.id"], name=op.f("fk_tracking_stale_marks_shipment_id_shipments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_stale_marks")),
        sa.UniqueConstraint("shipment_id", "since", name=op.f("uq_tracking_stale_marks_shipment_id_since")),
    )

    op.create_table(
        "import_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("market_id", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("delimiter", sa.String(length=1), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("unchanged_count", sa.Integer(), nullable=False),
        sa.Column("skipped_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["market_id"], ["markets.id"], name=op.f("fk_import_batches_market_id_markets")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_import_batches_job_id_jobs")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_import_batches_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batches")),
        sa.UniqueConstraint("kind", "sha256", name=op.f("uq_import_batches_kind_sha256")),
    )
    op.create_index("ix_import_batches_created", "import_batches", ["created_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_import_batches_created", table_name="import_batches")
    op.drop_table("import_batches")
    op.drop_table("tracking_stale_marks")
    op.drop_index("ix_unmatched_tracking_updates_number", table_name="unmatched_tracking_updates")
    op.drop_table("unmatched_tracking_updates")

"""An index for the audit trail's date filters and newest-first pages.

Revision ID: 0021
Revises: 0024
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_occurred", "audit_log", ["occurred_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_occurred", table_name="audit_log")

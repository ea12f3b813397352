"""Two-step sign-in secrets stored encrypted: users.totp_sealed.

The secret was kept plain in users.totp_secret. New secrets go encrypted (Fernet, with a key derived from
SECRET_KEY for this purpose only) into the new column; the migration has no SECRET_KEY, so the plain
ones stay where they are and are sealed by the portal: at the user's next right code, or all at once by
`flask --app wsgi shops rotate-keys`.

A new column rather than a wider totp_secret: on SQLite altering a column of `users` recreates the
table, which other tables' foreign keys to it forbid; adding one is a plain ALTER TABLE on both.

Downgrading cannot decrypt either: users whose secret exists only sealed have their two-step sign-in
turned off (as an admin's reset does: no secret, no recovery codes) and enrol again.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("totp_sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    sealed_only = "SELECT id FROM users WHERE totp_sealed IS NOT NULL AND totp_secret IS NULL"
    op.execute(f"DELETE FROM recovery_codes WHERE user_id IN ({sealed_only})")
    op.execute(
        "UPDATE users SET totp_enabled_at = NULL, totp_last_step = NULL "
        "WHERE totp_sealed IS NOT NULL AND totp_secret IS NULL"
    )
    op.drop_column("users", "totp_sealed")

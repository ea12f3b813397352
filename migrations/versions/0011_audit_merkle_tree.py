"""Audit log as a signed Merkle tree: entries queue for a sequencer instead of chaining to each other.

The hash chain (prev_hash, hash) made every writer wait for the one before it. Entries now carry no hash;
a sequencer places them in an RFC 6962 Merkle tree (leaves and completed subtrees, append-only) and signs
checkpoints. Existing entries are queued in their old order and sequenced by the first sequencer run.

Revision ID: 0011
Revises: 0016
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0016"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()

# table -> the condition under which an INSERT would replace an existing row (SQLite's INSERT OR REPLACE)
APPEND_ONLY = {
    "audit_log": "id = NEW.id",
    "audit_tree_leaves": "position = NEW.position OR entry_id = NEW.entry_id",
    "audit_tree_nodes": "level = NEW.level AND idx = NEW.idx",
    "audit_checkpoints": "tree_size = NEW.tree_size",
}
NEW_TABLES = ["audit_tree_leaves", "audit_tree_nodes", "audit_checkpoints"]
# Every new entry is queued for the sequencer by the database itself, in the writer's own INSERT.
SQLITE_QUEUE = """CREATE TRIGGER audit_log_queue AFTER INSERT ON audit_log
                  BEGIN INSERT INTO audit_pending (entry_id) VALUES (NEW.id); END"""
POSTGRES_QUEUE = [
    """CREATE OR REPLACE FUNCTION audit_log_queue() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO audit_pending (entry_id) VALUES (NEW.id); RETURN NULL; END $$""",
    """CREATE TRIGGER audit_log_queue AFTER INSERT ON audit_log
       FOR EACH ROW EXECUTE FUNCTION audit_log_queue()""",
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _sqlite_guards(table: str, replaces: str) -> list[str]:
    abort = f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} {abort}",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {abort}",
        # INSERT OR REPLACE deletes the row it replaces without firing delete triggers: refuse it here.
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {replaces}) {abort}",
    ]


def _drop_sqlite_guards(table: str) -> None:
    for kind in ("update", "delete", "replace"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{kind}")


def upgrade() -> None:
    sqlite = _sqlite()
    if sqlite:
        _drop_sqlite_guards("audit_log")  # the table is copied to drop the chain's columns
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_log_hash", type_="unique")
        batch_op.drop_constraint("uq_audit_log_prev_hash", type_="unique")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("hash")

    op.create_table(
        "audit_pending",
        sa.Column("entry_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["audit_log.id"], name=op.f("fk_audit_pending_entry_id_audit_log")
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_pending")),
    )
    op.create_table(
        "audit_tree_leaves",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["audit_log.id"], name=op.f("fk_audit_tree_leaves_entry_id_audit_log")
        ),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_audit_tree_leaves")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_audit_tree_leaves_entry_id")),
    )
    op.create_table(
        "audit_tree_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_tree_nodes")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", TZ, nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("previous_size", sa.BigInteger(), nullable=True),
        sa.Column("consistency", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_tree_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_tree_state")),
    )
    op.execute(
        "INSERT INTO audit_tree_state (id, tree_size, root_hash, updated_at) "
        f"VALUES (1, 0, '{EMPTY_ROOT}', CURRENT_TIMESTAMP)"
    )
    # Existing entries wait for the first sequencer run, which places them in their old order.
    op.execute("INSERT INTO audit_pending (entry_id) SELECT id FROM audit_log")

    if sqlite:
        op.execute(SQLITE_QUEUE)
        for table, replaces in APPEND_ONLY.items():
            for statement in _sqlite_guards(table, replaces):
                op.execute(statement)
    else:
        for statement in POSTGRES_QUEUE:
            op.execute(statement)
        op.execute(
            """CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"""
        )
        # audit_log keeps its trigger from 0001; ON CONFLICT DO UPDATE goes through these UPDATE triggers.
        for table in NEW_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
            )


def _chain_hash(prev_hash: str, row: sa.Row) -> str:
    occurred_at = row.occurred_at
    occurred_at = (
        occurred_at.replace(tzinfo=UTC) if occurred_at.tzinfo is None else occurred_at.astimezone(UTC)
    )
    details = row.details if isinstance(row.details, dict) else json.loads(row.details or "{}")
    payload = json.dumps(
        [
            prev_hash,
            occurred_at.isoformat(timespec="microseconds"),
            row.actor_id,
            row.actor_label,
            row.action,
            row.entity_type,
            row.entity_id,
            details,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def downgrade() -> None:
    sqlite = _sqlite()
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS audit_log_queue")
        for table in APPEND_ONLY:
            _drop_sqlite_guards(table)
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_queue ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_queue()")
        for table in NEW_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
    for table in (
        "audit_tree_state",
        "audit_checkpoints",
        "audit_tree_nodes",
        "audit_tree_leaves",
        "audit_pending",
    ):
        op.drop_table(table)

    # Back to the hash chain: recompute it over the entries in id order.
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    if not sqlite:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
    log = sa.table(
        "audit_log",
        sa.column("id", sa.Integer()),
        sa.column("occurred_at", TZ),
        sa.column("actor_id", sa.Integer()),
        sa.column("actor_label", sa.String()),
        sa.column("action", sa.String()),
        sa.column("entity_type", sa.String()),
        sa.column("entity_id", sa.String()),
        sa.column("details", sa.JSON()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    bind = op.get_bind()
    prev = "0" * 64
    for row in bind.execute(sa.select(log).order_by(log.c.id)).all():
        digest = _chain_hash(prev, row)
        bind.execute(sa.update(log).where(log.c.id == row.id).values(prev_hash=prev, hash=digest))
        prev = digest
    if not sqlite:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_audit_log_hash", ["hash"])
        batch_op.create_unique_constraint("uq_audit_log_prev_hash", ["prev_hash"])
    if sqlite:
        for statement in _sqlite_guards("audit_log", APPEND_ONLY["audit_log"])[:2]:
            op.execute(statement)

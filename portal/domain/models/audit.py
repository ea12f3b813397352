"""The audit log: append-only entries, and the signed Merkle tree a sequencer builds over them.

Writers only insert an entry and its row in `audit_pending`; they never read or lock anything shared.
The sequencer (portal/domain/audit_tree.py) gives pending entries their positions in batches, stores the
tree's leaves and completed subtrees, and signs a checkpoint of every new tree size.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, BigInteger, ForeignKey, Index, SmallInteger, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.models.base import Base
from portal.domain.types import utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity_type", "entity_id"),
        # The audit trail's date filters and newest-first pages.
        Index("ix_audit_log_occurred", "occurred_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)

    pending: Mapped[AuditPending | None] = relationship(viewonly=True)
    leaf: Mapped[AuditLeaf | None] = relationship(viewonly=True)

    @property
    def position(self) -> int | None:
        """Where the sequencer put the entry in the tree; None while it waits to be sequenced."""
        return self.leaf.position if self.leaf else None

    @property
    def leaf_hash(self) -> str | None:
        return self.leaf.leaf_hash if self.leaf else None


class AuditPending(Base):
    """Entries written but not sequenced yet; the sequencer removes each row as it places the entry.

    A trigger on audit_log (migration 0011) adds the row in the writer's own INSERT.
    """

    __tablename__ = "audit_pending"

    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_log.id"), primary_key=True, autoincrement=False)


# The same queueing trigger for a schema made with create_all() (tests of code that needs no migrations).
_QUEUE_DDL = {
    "sqlite": ["""CREATE TRIGGER IF NOT EXISTS audit_log_queue AFTER INSERT ON audit_log
                  BEGIN INSERT INTO audit_pending (entry_id) VALUES (NEW.id); END"""],
    "postgresql": [
        """CREATE OR REPLACE FUNCTION audit_log_queue() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN INSERT INTO audit_pending (entry_id) VALUES (NEW.id); RETURN NULL; END $$""",
        """CREATE OR REPLACE TRIGGER audit_log_queue AFTER INSERT ON audit_log
           FOR EACH ROW EXECUTE FUNCTION audit_log_queue()""",
    ],
}
for _dialect, _statements in _QUEUE_DDL.items():
    for _statement in _statements:
        event.listen(AuditPending.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect))


class AuditLeaf(Base):
    """Position `position` of the tree holds entry `entry_id`, whose leaf hashes to `leaf_hash`."""

    __tablename__ = "audit_tree_leaves"

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_log.id"), unique=True)
    leaf_hash: Mapped[str] = mapped_column(String(64))


class AuditNode(Base):
    """A completed perfect subtree of level >= 1: it covers leaves [idx * 2**level, (idx + 1) * 2**level)."""

    __tablename__ = "audit_tree_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed tree head, and the proof that the tree before it is a prefix of this one."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(100))  # base64 of the 64-byte Ed25519 signature
    previous_size: Mapped[int | None] = mapped_column(BigInteger)
    consistency: Mapped[list[str]] = mapped_column(JSON)  # hex hashes: previous_size -> tree_size


class AuditTreeState(Base):
    """One row: how far the tree goes. Sequencers claim the next batch with a conditional update of it."""

    __tablename__ = "audit_tree_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

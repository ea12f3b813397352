"""Appending to the audit log, and the bytes each entry contributes to the signed Merkle tree.

Writers insert the entry and mark it pending, nothing else: no lock, no read of another writer's row, so
no writer waits for or fails because of another. The sequencer (portal/domain/audit_tree.py) later gives
each pending entry its position in the tree and signs checkpoints.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from portal.domain.models import AuditEntry, User
from portal.domain.types import utcnow


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the audit log")


def canonical_details(details: dict[str, Any]) -> dict[str, Any]:
    """The details as they will read back from the database (JSON round trip)."""
    return json.loads(json.dumps(details, default=_plain))


def entry(
    action: str,
    entity_type: str,
    entity_id: str | int,
    details: dict[str, Any] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """One entry's row, for `record_many`; `occurred_at` is now unless the entry records history."""
    return {
        "occurred_at": occurred_at or utcnow(),
        "actor_id": actor.id if actor else None,
        "actor_label": actor_label or (actor.email if actor else "system"),
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "details": canonical_details(details or {}),
    }


def record(
    session: Session,
    action: str,
    entity_type: str,
    entity_id: str | int,
    details: dict[str, Any] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> int:
    """Append one entry and return its id; it becomes permanent when the caller's transaction commits.

    One INSERT and nothing else: the database queues the entry for the sequencer (a trigger adds its
    audit_pending row), so writers never read, lock or wait for anything another writer touches. The
    session is flushed first, as it always was, so the rows the entry talks about exist.
    """
    session.flush()
    return session.execute(
        insert(cast(Table, AuditEntry.__table__)).returning(AuditEntry.__table__.c.id),
        entry(action, entity_type, entity_id, details, actor, actor_label),
    ).scalar_one()


def record_many(session: Session, entries: list[dict[str, Any]]) -> int:
    """Append many entries (made by `entry`), in the order given; returns how many.

    They are added to the session and written with its next flush, together with the rows they talk
    about (one statement per table for everything pending, not one per entry), and a savepoint rolled
    back takes its entries with it.
    """
    session.add_all(AuditEntry(**values) for values in entries)
    return len(entries)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_json_text = encode_basestring  # a str as a JSON string, as _CANONICAL writes it


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys, no spaces and UTF-8 text: one byte string per value."""
    return _CANONICAL.encode(value).encode("utf-8")


def leaf_object(
    entry_id: int,
    occurred_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    entity_type: str,
    entity_id: str,
    details: Any,
) -> dict[str, Any]:
    return {
        "id": entry_id,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "details": details,
    }


def leaf_bytes(
    entry_id: int,
    occurred_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    entity_type: str,
    entity_id: str,
    details: Any,
) -> bytes:
    """The leaf of an entry: canonical JSON (sorted keys, no spaces, UTF-8) of the stored row.

    Exactly `canonical_json(leaf_object(...))`, written out key by key because `audit verify` hashes
    every entry of the log with it.
    """
    text = _json_text
    return (
        f'{{"action":{text(action)},"actor_id":{"null" if actor_id is None else int(actor_id)},'
        f'"actor_label":{text(actor_label)},"details":{_CANONICAL.encode(details)},'
        f'"entity_id":{text(entity_id)},"entity_type":{text(entity_type)},"id":{int(entry_id)},'
        f'"occurred_at":"{occurred_at.astimezone(UTC).isoformat(timespec="microseconds")}"}}'
    ).encode()


def entry_leaf(entry: AuditEntry) -> bytes:
    return leaf_bytes(entry.id, entry.occurred_at, entry.actor_id, entry.actor_label, entry.action,
                      entry.entity_type, entry.entity_id, entry.details)

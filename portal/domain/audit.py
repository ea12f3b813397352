"""Appending to the hash-chained audit log and proving that nobody rewrote it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.domain.models import AuditEntry, User
from portal.domain.types import utcnow

GENESIS_HASH = "0" * 64
# Any fixed number: PostgreSQL's advisory lock that serialises appends to the chain.
_CHAIN_LOCK_KEY = 7_220_415


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in the audit log")


def canonical_details(details: dict[str, Any]) -> dict[str, Any]:
    """The details as they will read back from the database (JSON round trip)."""
    return json.loads(json.dumps(details, default=_plain))


def entry_hash(
    prev_hash: str,
    occurred_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    entity_type: str,
    entity_id: str,
    details: dict[str, Any],
) -> str:
    payload = json.dumps(
        [prev_hash, occurred_at.isoformat(timespec="microseconds"), actor_id, actor_label, action,
         entity_type, entity_id, details],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(
    session: Session,
    action: str,
    entity_type: str,
    entity_id: str | int,
    details: dict[str, Any] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """Append one entry; it becomes permanent when the caller's transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
    prev = session.execute(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).scalar()
    prev_hash = prev or GENESIS_HASH
    label = actor_label or (actor.email if actor else "system")
    clean = canonical_details(details or {})
    occurred_at = utcnow()
    entry = AuditEntry(
        occurred_at=occurred_at,
        actor_id=actor.id if actor else None,
        actor_label=label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        details=clean,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, occurred_at, actor.id if actor else None, label, action, entity_type,
                        str(entity_id), clean),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Recompute every hash in order; report the first row that does not match its content or link."""
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(ok=True, checked=checked)
        for row in rows:
            if row.prev_hash != expected_prev:
                return ChainReport(False, checked, row.id, "link")
            recomputed = entry_hash(row.prev_hash, row.occurred_at, row.actor_id, row.actor_label,
                                    row.action, row.entity_type, row.entity_id, row.details)
            if recomputed != row.hash:
                return ChainReport(False, checked, row.id, "content")
            expected_prev = row.hash
            checked += 1
            last_id = row.id
        session.expunge_all()

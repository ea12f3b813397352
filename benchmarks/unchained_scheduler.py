"""A scheduler process whose audit entries skip the hash chain's global lock (benchmark use only).

`deadline_bench.py --audit unchained` runs this instead of `flask --app wsgi scheduler run`, to measure
how deadline firing scales once audit appends no longer serialise writers (the audit log redesign
appends without a lock and chains entries later). Entries written here are not chained: never use it
on a database you keep.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session  # noqa: E402

from portal import create_app  # noqa: E402
from portal.domain import audit  # noqa: E402
from portal.domain.models import AuditEntry, User  # noqa: E402
from portal.domain.types import utcnow  # noqa: E402
from portal.scheduler import run_scheduler  # noqa: E402


def record_unchained(
    session: Session,
    action: str,
    entity_type: str,
    entity_id: str | int,
    details: dict[str, Any] | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    """The same row as audit.record, without the lock and without reading the previous entry."""
    clean = audit.canonical_details(details or {})
    label = actor_label or (actor.email if actor else "system")
    entry = AuditEntry(
        occurred_at=utcnow(), actor_id=actor.id if actor else None, actor_label=label, action=action,
        entity_type=entity_type, entity_id=str(entity_id), details=clean,
        prev_hash=secrets.token_hex(32),  # unique, as the column demands; not a chain
        hash=hashlib.sha256(repr((action, entity_type, entity_id, clean)).encode()).hexdigest()[:32]
        + secrets.token_hex(16),
    )
    session.add(entry)
    session.flush()
    return entry


if __name__ == "__main__":
    audit.record = record_unchained  # type: ignore[assignment]
    run_scheduler(create_app())

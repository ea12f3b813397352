"""Finding audit entries for the auditors' trail and its CSV export: the log is read, never changed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.domain.models import AuditEntry, Case, User
from portal.pagination import newest_first

# The deadline sweep names a case by its id, every other case entry by its number.
CASE_BY_ID_ACTIONS = ("deadline.fired",)
NO_PERSON = "none"


@dataclass(frozen=True)
class TrailFilter:
    """What the auditor asked for; times are UTC, `since` inclusive and `before` exclusive."""

    since: datetime | None = None
    before: datetime | None = None
    actor: str = ""  # a user id, NO_PERSON for entries no person wrote, or "" for anyone
    action: str = ""  # one action, or a family ending in "." ("case.")
    case_number: str = ""
    entity: str = ""  # "type" or "type:id"


def trail_query(session: Session, f: TrailFilter) -> Select[Any]:
    """The entries that match `f`, unordered; the caller pages through them."""
    query = select(AuditEntry).options(selectinload(AuditEntry.leaf))
    if f.since is not None:
        query = query.where(AuditEntry.occurred_at >= f.since)
    if f.before is not None:
        query = query.where(AuditEntry.occurred_at < f.before)
    if f.actor == NO_PERSON:
        query = query.where(AuditEntry.actor_id.is_(None))
    elif f.actor.isdigit():
        query = query.where(AuditEntry.actor_id == int(f.actor))
    if f.action.endswith("."):
        query = query.where(AuditEntry.action.startswith(f.action, autoescape=True))
    elif f.action:
        query = query.where(AuditEntry.action == f.action)
    if f.case_number:
        query = query.where(_about_case(session, f.case_number))
    if f.entity:
        entity_type, _sep, entity_id = f.entity.partition(":")
        query = query.where(AuditEntry.entity_type == entity_type)
        if entity_id:
            query = query.where(AuditEntry.entity_id == entity_id)
    return query


def _about_case(session: Session, number: str) -> Any:
    about = and_(AuditEntry.entity_type == "case", AuditEntry.entity_id == number)
    case_id = session.scalar(select(Case.id).where(Case.number == number))
    if case_id is None:
        return about
    by_id = and_(AuditEntry.entity_type == "case", AuditEntry.action.in_(CASE_BY_ID_ACTIONS),
                 AuditEntry.entity_id == str(case_id))
    return or_(about, by_id)


def count(session: Session, f: TrailFilter) -> int:
    matching = trail_query(session, f).with_only_columns(AuditEntry.id).subquery()
    return int(session.scalar(select(func.count()).select_from(matching)) or 0)


def page(session: Session, f: TrailFilter, cursor: str | None, size: int) -> Any:
    """One page of matching entries, newest first (pagination.Page; BadCursor for a forged cursor)."""
    return newest_first(session, trail_query(session, f), AuditEntry.occurred_at, AuditEntry.id, cursor, size)


def batches(session: Session, f: TrailFilter, size: int = 500) -> Iterator[list[AuditEntry]]:
    """Every matching entry, newest first, a batch at a time from one streamed query (one sort, however
    many match), so memory stays flat."""
    query = (trail_query(session, f).order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
             .execution_options(yield_per=size))
    for partition in session.scalars(query).partitions(size):
        yield list(partition)


@dataclass(frozen=True)
class Names:
    """Who wrote entries and which cases they are about, looked up once per page rather than per row."""

    people: dict[int, str]
    case_numbers: dict[str, str]  # case id (as the entry holds it) -> number

    def case_number(self, entry: AuditEntry) -> str | None:
        if entry.entity_type != "case":
            return None
        if entry.action in CASE_BY_ID_ACTIONS:
            return self.case_numbers.get(entry.entity_id)
        return entry.entity_id


def names_for(session: Session, entries: Iterable[AuditEntry]) -> Names:
    entries = list(entries)
    actor_ids = {e.actor_id for e in entries if e.actor_id is not None}
    case_ids = {int(e.entity_id) for e in entries
                if e.entity_type == "case" and e.action in CASE_BY_ID_ACTIONS and e.entity_id.isdigit()}
    people: dict[int, str] = {}
    numbers: dict[str, str] = {}
    if actor_ids:
        named = session.execute(select(User.id, User.name).where(User.id.in_(actor_ids))).all()
        people = {user_id: name for user_id, name in named}
    if case_ids:
        found = session.execute(select(Case.id, Case.number).where(Case.id.in_(case_ids))).all()
        numbers = {str(case_id): number for case_id, number in found}
    return Names(people, numbers)

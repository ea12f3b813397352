"""Saved personal views: a user's named queue filters and sort, kept as the queue's query string."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.lifecycle import N_, LifecycleError
from portal.domain.models import SavedView

# A navigation column of views stays readable with this many.
MAX_VIEWS = 20
NAME_CHARS = 60
# The queue's own parameters, in the order they are written; anything else in a saved address is dropped.
FILTER_KEYS = (
    "view", "queue", "q", "status", "type", "reason", "market", "channel", "category", "sku", "campaign",
    "assignee", "value_min", "value_max", "from", "to", "sort", "tz",
)
VALUE_CHARS = 100


def clean_query(args: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
    """The queue parameters of `args` as a query string: known keys only, non-empty, bounded."""
    pairs = args.items() if isinstance(args, Mapping) else args
    found: dict[str, str] = {}
    for key, value in pairs:
        if key in FILTER_KEYS and value.strip() and key not in found:
            found[key] = value.strip()[:VALUE_CHARS]
    return urlencode([(key, found[key]) for key in FILTER_KEYS if key in found])


def parse_query(query: str) -> dict[str, str]:
    """A stored query string back as queue parameters (cleaned again: it may predate a filter's removal)."""
    return dict(parse_qsl(clean_query(parse_qsl(query))))


def user_views(session: Session, user_id: int) -> list[SavedView]:
    query = select(SavedView).where(SavedView.user_id == user_id).order_by(SavedView.name)
    return list(session.scalars(query))


def _name(session: Session, user_id: int, name: str, keep: int | None = None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise LifecycleError(N_("Name the view."))
    if len(name) > NAME_CHARS:
        raise LifecycleError(
            N_("A view's name can have at most %(limit)s characters (this one has %(length)s)."),
            limit=NAME_CHARS, length=len(name),
        )
    taken = select(SavedView.id).where(SavedView.user_id == user_id, SavedView.name == name)
    if keep is not None:
        taken = taken.where(SavedView.id != keep)
    if session.scalar(taken) is not None:
        raise LifecycleError(N_("You already have a view called “%(name)s”."), name=name)
    return name


def save_view(session: Session, user_id: int, name: str, args: Mapping[str, str]) -> SavedView:
    """Save the queue's current filters and sort under `name` for this user."""
    name = _name(session, user_id, name)
    count = session.scalar(select(func.count()).select_from(SavedView).where(SavedView.user_id == user_id))
    if (count or 0) >= MAX_VIEWS:
        raise LifecycleError(
            N_("You have %(limit)s saved views, the most there can be; delete one first."), limit=MAX_VIEWS
        )
    view = SavedView(user_id=user_id, name=name, query=clean_query(args))
    session.add(view)
    session.flush()
    return view


def owned(session: Session, user_id: int, view_id: int) -> SavedView | None:
    """The view, if it is this user's (another user's view is as good as missing)."""
    view = session.get(SavedView, view_id)
    return view if view is not None and view.user_id == user_id else None


def rename_view(session: Session, view: SavedView, name: str) -> None:
    view.name = _name(session, view.user_id, name, keep=view.id)
    session.flush()


def delete_view(session: Session, view: SavedView) -> None:
    session.delete(view)
    session.flush()

"""Failed work of every kind on one page: what gave up and why, and retrying it after a confirmation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from portal.access import allow
from portal.admin.views import bp
from portal.db import db_session
from portal.domain import audit
from portal.domain.enums import Role
from portal.domain.models import (
    Case,
    Deadline,
    Job,
    MarketplaceCommand,
    MarketplaceEvent,
    Message,
    ShopConnection,
    TrackingStaleMark,
)
from portal.domain.work import claims
from portal.domain.work.queues import BY_KIND, WorkQueue
from portal.rendering import render

# Rows shown per kind; the count above the table says how many there are in all.
SHOWN = 50
MAX_SELECTED = 500


@dataclass(frozen=True)
class FailedRow:
    kind: str
    id: int
    what: str
    case_id: int | None
    attempts: int
    error: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


def _deadline(row: Deadline) -> tuple[str, int | None]:
    return _("Deadline “%(name)s”", name=row.name), row.case_id


def _event(row: MarketplaceEvent) -> tuple[str, int | None]:
    return _("Notification %(id)s (type %(type)s)", id=row.notification_id, type=row.type), row.case_id


def _command(row: MarketplaceCommand) -> tuple[str, int | None]:
    return _("Decision “%(kind)s” for return %(ret)s", kind=row.kind, ret=row.return_id), row.case_id


def _mark(row: TrackingStaleMark) -> tuple[str, int | None]:
    return _("Silent parcel %(number)s", number=row.shipment.tracking_number), None


def _message(row: Message) -> tuple[str, int | None]:
    return _("Message to the buyer (%(channel)s)", channel=row.channel), row.case_id


def _token(row: ShopConnection) -> tuple[str, int | None]:
    return _("Token refresh of shop “%(name)s”", name=row.shop.name), None


def _job(row: Job) -> tuple[str, int | None]:
    return _("Background job %(id)s (%(kind)s)", id=row.id, kind=row.kind), None


@dataclass(frozen=True)
class Kind:
    queue: WorkQueue
    title: Any  # lazy string
    describe: Callable[[Any], tuple[str, int | None]]


KINDS: tuple[Kind, ...] = (
    Kind(BY_KIND["deadlines"], _l("Deadlines"), _deadline),
    Kind(BY_KIND["marketplace_inbox"], _l("Marketplace notifications"), _event),
    Kind(BY_KIND["marketplace_commands"], _l("Decisions sent to the marketplace"), _command),
    Kind(BY_KIND["tracking_stale"], _l("Stale tracking alerts"), _mark),
    Kind(BY_KIND["jobs"], _l("Background jobs"), _job),
    Kind(BY_KIND["buyer_messages"], _l("Messages to buyers"), _message),
    Kind(BY_KIND["shop_tokens"], _l("Shop token refreshes"), _token),
)
_BY_KIND = {kind.queue.kind: kind for kind in KINDS}


def _rows(kind: Kind, ids: list[int] | None = None) -> list[FailedRow]:
    queue = kind.queue
    query = claims.dead_letters(queue).order_by(queue.due.desc(), queue.id.desc())
    query = query.where(queue.id.in_(ids)) if ids is not None else query.limit(SHOWN)
    rows = []
    for row in db_session().scalars(query):
        what, case_id = kind.describe(row)
        rows.append(FailedRow(queue.kind, row.id, what, case_id, getattr(row, queue.attempts.key),
                              (getattr(row, queue.last_error.key) or "")[-400:]))
    return rows


def _case_numbers(rows: list[FailedRow]) -> dict[int, str]:
    ids = {row.case_id for row in rows if row.case_id is not None}
    if not ids:
        return {}
    return dict(db_session().execute(select(Case.id, Case.number).where(Case.id.in_(ids))).all())


def _page(status: int = 200, problem: str | None = None, confirm: list[FailedRow] | None = None,
          selected: set[str] | None = None) -> ResponseReturnValue:
    session = db_session()
    sections: list[dict[str, Any]] = [
        {"kind": kind, "count": claims.count_dead(session, kind.queue), "rows": _rows(kind)} for kind in KINDS
    ]
    every_row = [row for section in sections for row in section["rows"]] + (confirm or [])
    return render(
        "admin/failed_work.html",
        sections=sections,
        cases=_case_numbers(every_row),
        problem=problem,
        confirm=confirm,
        selected=selected or set(),
        titles={kind.queue.kind: kind.title for kind in KINDS},
        status=status,
    )


@bp.get("/failed-work")
@allow(Role.ADMIN)
def failed_work() -> ResponseReturnValue:
    return _page()


def _selection(values: list[str]) -> dict[str, list[int]] | None:
    """The chosen rows by kind, or None when a value is not one this page offers."""
    chosen: dict[str, list[int]] = {}
    for value in values:
        kind, _sep, row_id = value.partition(":")
        if kind not in _BY_KIND or not row_id.isdigit():
            return None
        chosen.setdefault(kind, []).append(int(row_id))
    return chosen


@bp.post("/failed-work/retry")
@allow(Role.ADMIN)
def retry_failed_work() -> ResponseReturnValue:
    """First answer: what will be retried, to confirm; with `confirmed`, queue it all again."""
    values = request.form.getlist("item")
    if not values:
        return _page(422, _("Choose at least one item to retry."))
    if len(values) > MAX_SELECTED:
        return _page(422, _("Choose at most %(count)d items at a time.", count=MAX_SELECTED))
    chosen = _selection(values)
    if chosen is None:
        return _page(422, _("That selection is not on this page; reload it and choose again."))
    rows = [row for kind, ids in chosen.items() for row in _rows(_BY_KIND[kind], ids)]
    if not rows:
        return _page(409, _("None of the chosen items is failed any more; nothing was changed."))
    if request.form.get("confirmed") != "1":
        return _page(confirm=rows, selected={row.key for row in rows})
    session = db_session()
    retried = 0
    for row in rows:
        if claims.retry(session, _BY_KIND[row.kind].queue, row.id):
            retried += 1
            audit.record(session, "work.retried", row.kind, row.id, {"attempts": row.attempts},
                         actor=current_user)
    session.commit()
    flash(_("%(count)d items are queued again; they run within a minute.", count=retried), "success")
    return redirect(url_for("admin.failed_work"), code=303)

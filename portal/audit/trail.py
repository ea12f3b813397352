"""The auditors' trail: readable entries, filters (dates in the reader's zone), pages, and a CSV export."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app, flash, redirect, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from portal.access import allow
from portal.actor_labels import actor_label
from portal.audit import readable
from portal.audit.views import AUDIT_READERS, bp
from portal.csv_export import SafeWriter
from portal.db import db_session
from portal.domain import audit_trail
from portal.domain.audit_trail import NO_PERSON, TrailFilter
from portal.domain.models import AuditEntry, User
from portal.i18n import in_zone, select_timezone
from portal.rendering import next_page_url, render, wants_fragment

# The export streams, but a spreadsheet of more rows than this helps nobody; narrow the filters instead.
EXPORT_MAX_ROWS = 100_000
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
CASE_NUMBER_MAX = 64
FILTER_NAMES = ("from", "to", "user", "action", "case", "entity")


@dataclass
class Filters:
    """The filter form as typed, what it asks of the log, and what was wrong with it."""

    values: dict[str, str]
    trail: TrailFilter = TrailFilter()
    errors: dict[str, str] = field(default_factory=dict)

    def query(self) -> dict[str, Any]:
        """The filters as an address's query, for the export link and the way back to the trail."""
        return {name: value for name, value in self.values.items() if value}


def _day(text: str, name: str, errors: dict[str, str]) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[name] = _("Give a date as YYYY-MM-DD.")
        return None
    if not EARLIEST <= day <= LATEST:
        errors[name] = _("Give a date between %(first)s and %(last)s.", first=EARLIEST.isoformat(),
                         last=LATEST.isoformat())
        return None
    return day


def read_filters(args: Mapping[str, str]) -> Filters:
    """The filters of a trail request; days are whole days in the reader's time zone."""
    values = {name: (args.get(name) or "").strip()[:100] for name in FILTER_NAMES}
    errors: dict[str, str] = {}
    zone = ZoneInfo(select_timezone())
    first, last = _day(values["from"], "from", errors), _day(values["to"], "to", errors)
    if first and last and first > last:
        errors["to"] = _("The last day comes before the first.")
    since = datetime.combine(first, time.min, zone) if first else None
    before = datetime.combine(last + timedelta(days=1), time.min, zone) if last else None
    actor = values["user"]
    if actor and actor != NO_PERSON and not (actor.isdigit() and len(actor) < 12):
        errors["user"] = _("Choose a person from the list.")
    action = values["action"]
    if action and action not in readable.known_actions():
        errors["action"] = _("Choose an action from the list.")
    if len(values["case"]) > CASE_NUMBER_MAX:
        errors["case"] = _("A case number has at most %(num)d characters.", num=CASE_NUMBER_MAX)
    if errors:
        return Filters(values, errors=errors)
    trail = TrailFilter(since=since, before=before, actor=actor, action=action, case_number=values["case"],
                        entity=values["entity"][:64])
    return Filters(values, trail)


@dataclass(frozen=True)
class Row:
    """One entry as the trail shows it."""

    entry: AuditEntry
    who: str
    sentence: str
    case_number: str | None
    changes: list[tuple[str, str, str]]

    @property
    def details_json(self) -> str:
        return json.dumps(self.entry.details, ensure_ascii=False, sort_keys=True, indent=1)


def rows_for(entries: list[AuditEntry]) -> list[Row]:
    names = audit_trail.names_for(db_session(), entries)
    # A person by name; the policy, scheduler or a carrier as the reader's language calls them.
    return [Row(e, names.people.get(e.actor_id or 0) or actor_label(e.actor_label), readable.sentence(e),
                names.case_number(e), readable.changes(e)) for e in entries]


def _people() -> list[tuple[int, str, str]]:
    return [tuple(row) for row in db_session().execute(  # type: ignore[misc]
        select(User.id, User.name, User.email).order_by(User.name, User.email)).all()]


@bp.get("")
@allow(AUDIT_READERS)
def log() -> ResponseReturnValue:
    filters = read_filters(request.args)
    if filters.errors:
        items: list[Row] = []
        next_cursor = None
    else:
        found = audit_trail.page(db_session(), filters.trail, request.args.get("after"),
                                 current_app.config["PAGE_SIZE"])
        items, next_cursor = rows_for(found.items), found.next_cursor
    return render(
        "audit/log.html",
        "audit/partials/_rows.html",
        # htmx swaps only 2xx answers: the fragment says what is wrong with a 200, the page with a 422.
        status=422 if filters.errors and not wants_fragment() else 200,
        rows=items,
        next_cursor=next_cursor,
        filters=filters.values,
        errors=filters.errors,
        people=_people(),
        action_groups=readable.action_groups(),
        no_person=NO_PERSON,
        zone=select_timezone(),
        export_url=url_for("audit.export_csv", **filters.query()),
        more_url=next_page_url(next_cursor),
        appending=bool(request.args.get("after")) and wants_fragment(),
    )


def _csv_lines(filters: TrailFilter, zone: str, headings: list[str]) -> Iterator[str]:
    out = io.StringIO()
    writer = SafeWriter(out)
    out.write("\ufeff")  # spreadsheet programs then read Chinese text as UTF-8
    writer.writerow(headings)
    session = db_session()
    for batch in audit_trail.batches(session, filters):
        for row in rows_for(batch):
            e = row.entry
            writer.writerow([
                in_zone(e.occurred_at, zone).isoformat(timespec="seconds"),
                row.who,
                row.sentence,
                row.case_number or "",
                "; ".join(f"{name}: {old} → {new}" for name, old, new in row.changes),
                e.action,
                f"{e.entity_type}:{e.entity_id}",
                json.dumps(e.details, ensure_ascii=False, sort_keys=True),
                "" if e.position is None else e.position,
            ])
        yield out.getvalue()
        out.seek(0)
        out.truncate()


@bp.get("/export.csv")
@allow(AUDIT_READERS)
def export_csv() -> ResponseReturnValue:
    """The filtered entries as CSV, streamed a batch at a time; refused beyond EXPORT_MAX_ROWS."""
    filters = read_filters(request.args)
    back = filters.query()
    if filters.errors:
        flash(_("Fix the filters before exporting."), "error")
        return redirect(url_for("audit.log", **back), 303)
    matching = audit_trail.count(db_session(), filters.trail)
    if matching > EXPORT_MAX_ROWS:
        flash(_("%(count)d entries match; an export holds at most %(max)d. Narrow the filters, e.g. the "
                "dates.", count=matching, max=EXPORT_MAX_ROWS), "error")
        return redirect(url_for("audit.log", **back), 303)
    zone = select_timezone()
    headings = [_("When (%(zone)s)", zone=zone), _("Who"), _("What"), _("Case"), _("Changes"), _("Action"),
                _("Entity"), _("Details"), _("Position")]
    stamp = datetime.now(ZoneInfo(zone)).strftime("%Y%m%d-%H%M")
    return Response(
        stream_with_context(_csv_lines(filters.trail, zone, headings)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-trail-{stamp}.csv"',
                 "Cache-Control": "no-store"},
    )

"""The agents' queue flow: saved personal views, "next case", presence heartbeats, the away switch and the
managers' automatic-assignment settings."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from portal.access import ALL_ROLES, STAFF, allow
from portal.cases.blueprint import bp
from portal.cases.queue_views import filter_from_args, queue_url, remembered_filters
from portal.cases.views import load_case
from portal.db import db_session
from portal.domain.enums import Role
from portal.domain.lifecycle import LifecycleError
from portal.domain.models import Market, SavedView, User
from portal.domain.queueflow import assignment, presence, saved_views
from portal.domain.queueflow.navigation import next_case as following_case
from portal.rendering import render

MANAGERS = frozenset({Role.OPS_MANAGER, Role.ADMIN})


def _message(error: LifecycleError) -> str:
    return gettext(error.message, **error.params)


# Saved personal views ---------------------------------------------------------------------------------


def _views_page(status: int = 200, error: str | None = None, **context: Any) -> ResponseReturnValue:
    views = saved_views.user_views(db_session(), current_user.id)
    return render(
        "cases/views.html", views=views, error=error, status=status,
        limit=saved_views.MAX_VIEWS, name_chars=saved_views.NAME_CHARS,
        query_of=saved_views.parse_query, **context,
    )


@bp.get("/views")
@allow(STAFF)
def views() -> ResponseReturnValue:
    return _views_page()


@bp.post("/views")
@allow(STAFF)
def save_view() -> ResponseReturnValue:
    """Save the queue's current filters (sent as its query string) under a name."""
    db = db_session()
    args = saved_views.parse_query(request.form.get("query", "")[:2000])
    try:
        view = saved_views.save_view(db, current_user.id, request.form.get("name", ""), args)
    except LifecycleError as error:
        db.rollback()
        return _views_page(422, _message(error), draft_name=request.form.get("name", "")[:200],
                           draft_query=saved_views.clean_query(args))
    db.commit()
    flash(gettext("View “%(name)s” saved.", name=view.name), "success")
    base = url_for("cases.queue")
    return redirect(f"{base}?{view.query}" if view.query else base)


def _own_view(view_id: int) -> SavedView:
    view = saved_views.owned(db_session(), current_user.id, view_id)
    if view is None:
        abort(404)
    return view


@bp.post("/views/<int:view_id>/rename")
@allow(STAFF)
def rename_view(view_id: int) -> ResponseReturnValue:
    db = db_session()
    view = _own_view(view_id)
    try:
        saved_views.rename_view(db, view, request.form.get("name", ""))
    except LifecycleError as error:
        db.rollback()
        return _views_page(422, _message(error), failed_id=view_id)
    db.commit()
    flash(gettext("View renamed to “%(name)s”.", name=view.name), "success")
    return redirect(url_for("cases.views"))


@bp.get("/views/<int:view_id>/delete")
@allow(STAFF)
def delete_view_confirm(view_id: int) -> ResponseReturnValue:
    return render("cases/view_delete.html", view=_own_view(view_id))


@bp.post("/views/<int:view_id>/delete")
@allow(STAFF)
def delete_view(view_id: int) -> ResponseReturnValue:
    db = db_session()
    view = _own_view(view_id)
    if request.form.get("confirm") != "yes":
        return render("cases/view_delete.html", view=view, status=422)
    name = view.name
    saved_views.delete_view(db, view)
    db.commit()
    flash(gettext("View “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("cases.views"))


# Next case and presence -------------------------------------------------------------------------------


@bp.get("/<number>/next")
@allow(ALL_ROLES)
def next_case(number: str) -> ResponseReturnValue:
    """The case after this one in the queue the agent last had open (same filters, same order)."""
    current = load_case(number)
    found = following_case(db_session(), filter_from_args(remembered_filters()), current)
    if found is None:
        flash(gettext("That was the last case in this queue."), "success")
        return redirect(queue_url())
    return redirect(url_for("cases.show", number=found))


@bp.post("/<number>/presence")
@allow(STAFF)
def heartbeat(number: str) -> ResponseReturnValue:
    """The case page says it is still open (htmx, every HEARTBEAT); answers who else has it open."""
    case = load_case(number)
    db = db_session()
    presence.beat(db, case.id, current_user.id)
    db.commit()
    names = presence.viewers(db, [case.id], current_user.id).get(case.id, [])
    return render("cases/partials/_presence.html", case=case, viewers=names,
                  heartbeat=int(presence.HEARTBEAT.total_seconds()))


@bp.post("/<number>/presence/leave")
@allow(STAFF)
def leave_case(number: str) -> ResponseReturnValue:
    """The case page is going away (sent as a beacon): colleagues stop seeing the user at once."""
    case = load_case(number)
    db = db_session()
    presence.leave(db, case.id, current_user.id)
    db.commit()
    return "", 204


# Availability and automatic assignment ----------------------------------------------------------------


@bp.post("/away")
@allow(STAFF)
def away() -> ResponseReturnValue:
    """An agent switches themselves away (no automatic assignments) or back."""
    db = db_session()
    going = request.form.get("away") == "1"
    assignment.set_away(db, current_user.id, going)
    db.commit()
    flash(gettext("You are away: no cases are assigned to you automatically.") if going
          else gettext("You are back: cases are assigned to you again while you are on shift."), "success")
    return redirect(url_for("cases.queue"))


def _settings_page(status: int = 200, error: str | None = None) -> ResponseReturnValue:
    db = db_session()
    return render(
        "cases/assignment.html",
        queues=assignment.queue_settings(db),
        agents=assignment.agents(db),
        markets=db.scalars(select(Market).order_by(Market.code)).all(),
        cap_range=assignment.CAP_RANGE,
        default_cap=assignment.DEFAULT_CAP,
        error=error,
        status=status,
    )


@bp.get("/assignment")
@allow(MANAGERS)
def assignment_settings() -> ResponseReturnValue:
    return _settings_page()


@bp.post("/assignment/queue")
@allow(MANAGERS)
def configure_queue() -> ResponseReturnValue:
    db = db_session()
    cap_text = request.form.get("cap", "").strip()
    try:
        if not cap_text.isdigit() or len(cap_text) > 6:
            low, high = assignment.CAP_RANGE
            raise LifecycleError(
                "The cap must be a whole number from %(low)s to %(high)s.", low=low, high=high
            )
        row = assignment.configure_queue(
            db, request.form.get("queue", ""), request.form.get("enabled") == "1", int(cap_text)
        )
    except LifecycleError as error:
        db.rollback()
        return _settings_page(422, _message(error))
    db.commit()
    message = (
        gettext("Queue %(queue)s: assigned automatically, at most %(cap)s open cases per agent.",
                queue=row.queue, cap=row.cap)
        if row.enabled
        else gettext("Queue %(queue)s: not assigned automatically.", queue=row.queue)
    )
    flash(message, "success")
    return redirect(url_for("cases.assignment_settings"))


@bp.post("/assignment/agents/<int:user_id>")
@allow(MANAGERS)
def configure_agent(user_id: int) -> ResponseReturnValue:
    db = db_session()
    person = db.get(User, user_id)
    if person is None or person.role != Role.CS_AGENT:
        abort(404)
    market_text = request.form.get("market", "")
    try:
        if market_text and not market_text.isdigit():
            raise LifecycleError("Choose a market from the list.")
        market_id = int(market_text) if market_text else None
        assignment.set_agent(db, user_id, request.form.get("away") == "1", market_id)
    except LifecycleError as error:
        db.rollback()
        return _settings_page(422, _message(error))
    db.commit()
    flash(gettext("%(name)s saved.", name=person.name), "success")
    return redirect(url_for("cases.assignment_settings"))

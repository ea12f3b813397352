"""Scheduler health (is it alive, is it keeping up) and the deadline settings ops managers keep."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.access import allow
from portal.db import db_session
from portal.domain import deadline_rules, deadlines
from portal.domain.audit_tree import sequencer_status
from portal.domain.business_hours import CalendarError, DayHours, check_day, parse_ranges, ranges_text
from portal.domain.enums import CaseType, Role
from portal.domain.models import DeadlineSetting, Market
from portal.domain.types import utcnow
from portal.rendering import render
from portal.scheduling import durations
from portal.scheduling.forms import WEEKDAYS, CalendarForm, DeadlineSettingForm

bp = Blueprint("scheduling", __name__)
SETTINGS_ROLES = (Role.OPS_MANAGER, Role.ADMIN)


@bp.get("/admin/scheduler")
@allow(Role.ADMIN, Role.OPS_MANAGER)
def health() -> ResponseReturnValue:
    session = db_session()
    now = utcnow()
    report = deadlines.health(session, now, current_app.config["SCHEDULER_INTERVAL_SECONDS"])
    return render("scheduling/health.html", "scheduling/partials/_health.html", health=report, now=now,
                  sequencer=sequencer_status(session, now))


def _markets() -> list[Market]:
    return list(db_session().scalars(select(Market).order_by(Market.code, Market.id)))


def _settings_page(form: DeadlineSettingForm, status: int = 200,
                   editing: DeadlineSetting | None = None) -> ResponseReturnValue:
    session = db_session()
    markets = _markets()
    # Every case type gets its own summary: a rule applies to some types only, and settings may differ.
    tables = {
        case_type: {
            market.id: deadline_rules.effective_rules(session, market.id, case_type) for market in markets
        }
        for case_type in CaseType
    }
    rows = session.scalars(
        select(DeadlineSetting)
        .order_by(DeadlineSetting.name, DeadlineSetting.market_id, DeadlineSetting.case_type)
    ).all()
    names = {market.id: market.code for market in markets}
    return render("scheduling/deadlines.html", form=form, rules=deadline_rules.RULES, markets=markets,
                  tables=tables, case_types=list(CaseType), settings=rows, market_names=names,
                  editing=editing, calendars={
                      market.id: deadline_rules.calendar_for(session, market) for market in markets
                  }, week_summary=week_summary, length_with_clock=durations.length_with_clock, status=status)


def week_summary(week: tuple[DayHours, ...]) -> list[str]:
    """Runs of weekdays with the same hours, one line each: "Monday–Friday 09:00–12:00, 13:00–18:00"."""
    lines, number = [], 0
    while number < 7:
        last = number
        while last + 1 < 7 and week[last + 1] == week[number]:
            last += 1
        if week[number]:
            days = str(WEEKDAYS[number]) if last == number else f"{WEEKDAYS[number]}–{WEEKDAYS[last]}"
            lines.append(f"{days} {ranges_text(week[number])}")
        number = last + 1
    return lines


def _market_choices() -> list[tuple[str, str]]:
    return [(str(market.id), f"{market.code} · {market.name}") for market in _markets()]


def _editing() -> DeadlineSetting | None:
    raw = request.args.get("edit", "")
    found = db_session().get(DeadlineSetting, int(raw)) if raw.isdigit() and len(raw) < 12 else None
    if raw and found is None:
        abort(404)
    return found


@bp.route("/settings/deadlines", methods=["GET", "POST"])
@allow(*SETTINGS_ROLES)
def settings() -> ResponseReturnValue:
    editing = _editing() if request.method == "GET" else None
    prefill = None
    if editing is not None:
        # The form shows the setting as it is, its clock included: saving it unchanged changes nothing.
        prefill = {"name": editing.name, "market": str(editing.market_id or ""),
                   "case_type": editing.case_type.value if editing.case_type else "",
                   "hours": durations.form_text(editing.hours, editing.clock), "clock": editing.clock.value,
                   "enabled": editing.enabled}
    form = DeadlineSettingForm(_market_choices(), data=prefill)
    if form.validate_on_submit():
        hours = form.length_hours()
        if hours is None:
            return _settings_page(form, 422)
        session = db_session()
        try:
            deadline_rules.save_setting(
                session, current_user, form.name.data or "",
                int(form.market.data) if form.market.data else None,
                CaseType(form.case_type.data) if form.case_type.data else None,
                hours, form.chosen_clock(), bool(form.enabled.data),
            )
        except deadline_rules.SettingError as error:
            session.rollback()
            form.hours.errors = [gettext(error.message, **error.params)]
            return _settings_page(form, 422)
        session.commit()
        flash(gettext("Saved. Deadlines that start from now on use it; running ones keep their time."),
              "success")
        return redirect(url_for("scheduling.settings"))
    return _settings_page(form, 422 if form.is_submitted() else 200, editing)


@bp.post("/settings/deadlines/<int:setting_id>/remove")
@allow(*SETTINGS_ROLES)
def remove_setting(setting_id: int) -> ResponseReturnValue:
    session = db_session()
    try:
        deadline_rules.remove_setting(session, current_user, setting_id)
    except deadline_rules.SettingError as error:
        session.rollback()
        flash(gettext(error.message, **error.params), "error")
    else:
        session.commit()
        flash(gettext("Setting removed; the wider setting or the default applies again."), "success")
    return redirect(url_for("scheduling.settings"))


BLANK_CLOSED_ROWS = 3


def _calendar_form(session: Session, market: Market) -> CalendarForm:
    if request.method == "POST":
        return CalendarForm()
    calendar = deadline_rules.calendar_for(session, market)
    notes = deadline_rules.closed_day_notes(session, market)
    data: dict[str, object] = {"public_holidays": calendar.market_code is not None, "closed": [
        {"day": day, "note": notes.get(day.isoformat(), "")} for day in sorted(calendar.closed_days)
    ] + [{}] * BLANK_CLOSED_ROWS}
    for number, day_hours in enumerate(calendar.week):
        data[f"open_{number}"] = bool(day_hours)
        data[f"hours_{number}"] = ranges_text(day_hours) if day_hours else "09:00–18:00"
    return CalendarForm(data=data)


def _read_week(form: CalendarForm) -> tuple[DayHours, ...] | None:
    """Each weekday's ranges from the form; None with messages by the fields when one is unreadable."""
    week: list[DayHours] = []
    fine = True
    for open_box, hours in form.day_fields():
        if not open_box.data:
            week.append(())
            continue
        try:
            ranges = parse_ranges(hours.data or "")
            if not ranges:
                raise ValueError("")
            week.append(check_day(ranges))
        except (ValueError, CalendarError):
            hours.errors = [gettext("Write the hours as 09:00-12:00, 13:00-18:00: each range closes after "
                                    "it opens, and ranges do not overlap.")]
            fine = False
            week.append(())
    if fine and not any(week):
        form.weekday_error = gettext("Choose at least one working day.")
        return None
    return tuple(week) if fine else None


def _read_closed_days(form: CalendarForm) -> dict[date, str] | None:
    days: dict[date, str] = {}
    for entry in form.closed:
        row = entry.form
        if row.remove.data or row.day.data is None:
            continue
        if row.day.data in days:
            row.day.errors = [gettext("This date is listed twice.")]
            return None
        days[row.day.data] = (row.note.data or "").strip()
    return days


@bp.route("/settings/business-hours/<int:market_id>", methods=["GET", "POST"])
@allow(*SETTINGS_ROLES)
def business_hours(market_id: int) -> ResponseReturnValue:
    session = db_session()
    market = session.get(Market, market_id)
    if market is None:
        abort(404)
    form = _calendar_form(session, market)
    status = 200
    if form.validate_on_submit():
        week, closed = _read_week(form), _read_closed_days(form)
        if week is not None and closed is not None:
            try:
                deadline_rules.save_calendar(session, current_user, market, week,
                                             bool(form.public_holidays.data), closed)
            except deadline_rules.SettingError as error:
                session.rollback()
                message = gettext(error.message, **error.params)
                if error.field == "weekdays":
                    form.weekday_error = message
                elif error.field in form:
                    form[error.field].errors = [message]
                else:
                    form.weekday_error = message
                status = 422
            else:
                session.commit()
                flash(gettext("Business hours for %(market)s saved.", market=market.code), "success")
                return redirect(url_for("scheduling.settings"))
        else:
            status = 422
    elif form.is_submitted():
        status = 422
    return render("scheduling/business_hours.html", form=form, market=market, status=status)

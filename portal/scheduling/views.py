"""Scheduler health (is it alive, is it keeping up) and the deadline settings ops managers keep."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from portal.access import allow
from portal.db import db_session
from portal.domain import deadline_rules, deadlines
from portal.domain.audit_tree import sequencer_status
from portal.domain.business_hours import parse_days
from portal.domain.enums import CaseType, DeadlineClock, Role
from portal.domain.models import DeadlineSetting, Market
from portal.domain.types import utcnow
from portal.rendering import render
from portal.scheduling.forms import CalendarForm, DeadlineSettingForm

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


def _settings_page(form: DeadlineSettingForm, status: int = 200) -> ResponseReturnValue:
    session = db_session()
    markets = _markets()
    table = {
        market.id: deadline_rules.effective_rules(session, market.id, CaseType.RETURN_AND_REFUND)
        for market in markets
    }
    rows = session.scalars(
        select(DeadlineSetting)
        .order_by(DeadlineSetting.name, DeadlineSetting.market_id, DeadlineSetting.case_type)
    ).all()
    names = {market.id: market.code for market in markets}
    return render("scheduling/deadlines.html", form=form, rules=deadline_rules.RULES, markets=markets,
                  table=table, settings=rows, market_names=names, calendars={
                      market.id: deadline_rules.calendar_for(session, market) for market in markets
                  }, status=status)


def _market_choices() -> list[tuple[str, str]]:
    return [(str(market.id), f"{market.code} · {market.name}") for market in _markets()]


@bp.route("/settings/deadlines", methods=["GET", "POST"])
@allow(*SETTINGS_ROLES)
def settings() -> ResponseReturnValue:
    form = DeadlineSettingForm(_market_choices())
    if form.validate_on_submit():
        session = db_session()
        try:
            deadline_rules.save_setting(
                session, current_user, form.name.data or "",
                int(form.market.data) if form.market.data else None,
                CaseType(form.case_type.data) if form.case_type.data else None,
                Decimal(form.hours.data), DeadlineClock(form.clock.data), bool(form.enabled.data),
            )
        except deadline_rules.SettingError as error:
            session.rollback()
            form.hours.errors = [gettext(error.message, **error.params)]
            return _settings_page(form, 422)
        session.commit()
        flash(gettext("Saved. Deadlines that start from now on use it; running ones keep their time."),
              "success")
        return redirect(url_for("scheduling.settings"))
    return _settings_page(form, 422 if form.is_submitted() else 200)


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


@bp.route("/settings/business-hours/<int:market_id>", methods=["GET", "POST"])
@allow(*SETTINGS_ROLES)
def business_hours(market_id: int) -> ResponseReturnValue:
    session = db_session()
    market = session.get(Market, market_id)
    if market is None:
        abort(404)
    calendar = deadline_rules.calendar_for(session, market)
    form = CalendarForm(data=None if request.method == "POST" else {
        "opens": calendar.opens, "closes": calendar.closes, "weekdays": sorted(calendar.weekdays),
        "public_holidays": calendar.market_code is not None,
        "closed_days": "\n".join(sorted(d.isoformat() for d in calendar.closed_days)),
    })
    status = 200
    if form.validate_on_submit():
        days, bad = parse_days(form.closed_days.data or "")
        if bad:
            lines = ", ".join(bad[:5])
            form.closed_days.errors = [gettext("Not a date (YYYY-MM-DD): %(lines)s", lines=lines)]
            status = 422
        else:
            try:
                deadline_rules.save_calendar(
                    session, current_user, market, form.opens.data, form.closes.data,
                    list(form.weekdays.data or []), bool(form.public_holidays.data), days,
                )
            except deadline_rules.SettingError as error:
                session.rollback()
                form[error.field or "closes"].errors = [gettext(error.message, **error.params)]
                status = 422
            else:
                session.commit()
                flash(gettext("Business hours for %(market)s saved.", market=market.code), "success")
                return redirect(url_for("scheduling.settings"))
    elif form.is_submitted():
        status = 422
    return render("scheduling/business_hours.html", form=form, market=market, status=status)

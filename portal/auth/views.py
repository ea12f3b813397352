"""Signing in and out, and each user's language and time zone."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from portal.access import ALL_ROLES, allow, public
from portal.auth.forms import LanguageForm, LoginForm, SettingsForm
from portal.db import db_session
from portal.domain import audit
from portal.domain.users import authenticate
from portal.i18n import select_locale, select_timezone, valid_timezone

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths; an absolute or protocol-relative URL could send the user elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        dbs = db_session()
        user = authenticate(dbs, form.email.data or "", form.password.data or "")
        if user is None:
            form.password.errors.append(_("E-mail or password is wrong."))
            dbs.rollback()
            return render_template("auth/login.html", form=form), 401
        if user.locale is None and session.get("locale"):
            user.locale = session["locale"]
        browser_zone = request.form.get("tz", "")
        if user.timezone is None and valid_timezone(browser_zone):
            user.timezone = browser_zone
        audit.record(dbs, "user.login", "user", user.id, {}, actor=user)
        dbs.commit()
        session.clear()
        login_user(user, remember=bool(form.remember.data))
        return redirect(_safe_next(request.args.get("next")) or url_for("main.index"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@allow(ALL_ROLES)
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
@public
def language() -> ResponseReturnValue:
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            db_session().commit()
    return redirect(_safe_next(request.form.get("next")) or url_for("main.index"))


@bp.route("/settings", methods=["GET", "POST"])
@allow(ALL_ROLES)
def settings() -> ResponseReturnValue:
    form = SettingsForm(locale=select_locale(), timezone=select_timezone())
    if form.validate_on_submit():
        current_user.locale = form.locale.data
        current_user.timezone = form.timezone.data
        db_session().commit()
        flash(_("Your settings are saved."), "success")
        return redirect(url_for("auth.settings"))
    return render_template("auth/settings.html", form=form)

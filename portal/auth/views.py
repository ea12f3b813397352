"""Signing in (password, then a code for users with a second factor) and out, each user's password,
language and time zone."""

from __future__ import annotations

import math
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm

from portal.access import ALL_ROLES, allow, public
from portal.auth import signin, throttling
from portal.auth.forms import CodeForm, LanguageForm, LoginForm, PasswordForm, SettingsForm
from portal.db import db_session
from portal.domain import audit, users
from portal.domain.accounts import second_factor, sessions
from portal.domain.models import User
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


PENDING_KEY = "second_factor"
# Between a right password and the code from the app; longer and the password must be given again.
PENDING_SECONDS = 300


def _too_many(template: str, form: FlaskForm, refused: throttling.Throttled) -> ResponseReturnValue:
    minutes = max(1, math.ceil(refused.retry_after / 60))
    message = ngettext(
        "Too many sign-in attempts. Wait %(num)d minute and try again.",
        "Too many sign-in attempts. Wait %(num)d minutes and try again.",
        minutes,
    )
    response = make_response(render_template(template, form=form, throttled=message), 429)
    response.headers["Retry-After"] = str(refused.retry_after)
    return response


def _finish(user: User, *, remember: bool, how: str) -> ResponseReturnValue:
    """Record the sign-in, start the server-side session and go where the user was heading."""
    dbs = db_session()
    audit.record(dbs, "user.login", "user", user.id, {"second_factor": how} if how else {}, actor=user)
    signin.sign_in(user, remember=remember)
    return redirect(_safe_next(request.args.get("next")) or url_for("main.index"))


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data or ""
        try:
            attempt = throttling.signin_attempt(email)
        except throttling.Throttled as refused:
            return _too_many("auth/login.html", form, refused)
        dbs = db_session()
        user = authenticate(dbs, email, form.password.data or "")
        if user is None:
            form.password.errors.append(_("E-mail or password is wrong."))
            dbs.rollback()
            attempt.failed()
            return render_template("auth/login.html", form=form), 401
        attempt.succeeded()
        if user.locale is None and session.get("locale"):
            user.locale = session["locale"]
        browser_zone = request.form.get("tz", "")
        if user.timezone is None and valid_timezone(browser_zone):
            user.timezone = browser_zone
        if second_factor.enabled(user):
            dbs.commit()
            session.clear()
            session[PENDING_KEY] = {
                "user": user.id, "remember": bool(form.remember.data), "at": int(time.time())
            }
            return redirect(url_for("auth.login_code", next=_safe_next(request.args.get("next"))))
        return _finish(user, remember=bool(form.remember.data), how="")
    return render_template("auth/login.html", form=form)


def _pending_user() -> tuple[User, bool] | None:
    """The user who gave the right password a moment ago in this browser, and whether to remember them."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or not all(isinstance(pending.get(k), int) for k in ("at", "user")):
        return None
    if time.time() - pending["at"] > PENDING_SECONDS:
        return None
    user = db_session().get(User, pending.get("user"))
    if user is None or not user.active or not second_factor.enabled(user):
        return None
    return user, bool(pending.get("remember"))


@bp.route("/login/code", methods=["GET", "POST"])
@public
def login_code() -> ResponseReturnValue:
    """The second step for users with a second factor: a code from their app, or a recovery code."""
    pending = _pending_user()
    if pending is None:
        session.pop(PENDING_KEY, None)
        flash(_("Sign in again: the code must follow the password within five minutes."), "info")
        return redirect(url_for("auth.login", next=_safe_next(request.args.get("next"))))
    user, remember = pending
    form = CodeForm()
    if form.validate_on_submit():
        try:
            attempt = throttling.signin_attempt(user.email)
        except throttling.Throttled as refused:
            return _too_many("auth/login_code.html", form, refused)
        dbs = db_session()
        code = form.code.data or ""
        # An unreadable secret (SECRET_KEY changed without a fallback) fails here like a wrong code.
        vault = second_factor.vault_from_config(current_app.config)
        how = "totp" if second_factor.check_code(dbs, user, vault, code) else (
            "recovery_code" if second_factor.use_recovery_code(dbs, user, code) else "")
        if not how:
            dbs.rollback()
            attempt.failed()
            form.code.errors.append(_("That code is not right. Use the current code from your app."))
            return render_template("auth/login_code.html", form=form), 401
        dbs.commit()  # first: on SQLite the throttle's own transaction must not wait for this one
        attempt.succeeded()
        return _finish(user, remember=remember, how=how)
    return render_template("auth/login_code.html", form=form), 422 if form.is_submitted() else 200


@bp.post("/logout")
@allow(ALL_ROLES)
def logout() -> ResponseReturnValue:
    dbs = db_session()
    audit.record(dbs, "user.logout", "user", current_user.id, {}, actor=current_user)
    dbs.commit()
    signin.sign_out()
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
    return _settings_page(form, PasswordForm(formdata=None))


def _settings_page(form: SettingsForm, password_form: PasswordForm, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "auth/settings.html",
        form=form,
        password_form=password_form,
        sessions=sessions.live_sessions(db_session(), current_user.id),
        may_enrol=second_factor.may_enrol(current_user),
        second_factor_on=second_factor.enabled(current_user),
    ), status


@bp.post("/settings/password")
@allow(ALL_ROLES)
def change_password() -> ResponseReturnValue:
    """A new password ends every session of the user; this browser gets a fresh one."""
    form = PasswordForm()
    if form.validate_on_submit():
        dbs = db_session()
        try:
            attempt = throttling.signin_attempt(current_user.email)
        except throttling.Throttled as refused:
            form.current.errors.append(_("Too many wrong passwords. Try again in %(num)d minutes.",
                                         num=max(1, math.ceil(refused.retry_after / 60))))
            response = make_response(_settings_page(
                SettingsForm(locale=select_locale(), timezone=select_timezone()), form, 429))
            response.headers["Retry-After"] = str(refused.retry_after)
            return response
        try:
            users.change_password(dbs, current_user, form.current.data or "", form.new.data or "")
        except users.WrongPasswordError:
            dbs.rollback()
            attempt.failed()
            form.current.errors.append(_("The current password is wrong."))
        except users.UserError:
            dbs.rollback()
            attempt.succeeded()  # the password was right
            form.new.errors.append(_("Choose a password different from the current one."))
        else:
            dbs.commit()  # first: on SQLite the throttle's own transaction must not wait for this one
            attempt.succeeded()
            remember = signin.current_remembered()
            user = current_user._get_current_object()  # type: ignore[attr-defined]
            signin.sign_in(user, remember=remember)
            flash(_("Your password is changed. Every other session of yours has been signed out."), "success")
            return redirect(url_for("auth.settings"))
    return _settings_page(SettingsForm(locale=select_locale(), timezone=select_timezone()), form, 422)


from portal.auth import password_reset, two_factor  # noqa: E402,F401  (register their pages on bp)

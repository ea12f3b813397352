"""Turning the second factor on and off: admins and ops managers, from their settings."""

from __future__ import annotations

import math

from flask import Response, current_app, flash, make_response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from portal.access import allow
from portal.auth import throttling
from portal.auth.forms import CodeForm
from portal.auth.views import bp
from portal.db import db_session
from portal.domain import audit
from portal.domain.accounts import second_factor
from portal.domain.enums import Role
from portal.domain.shops.secrets import Vault

ROLES = (Role.ADMIN, Role.OPS_MANAGER)


def vault() -> Vault:
    """The vault for two-step secrets, from this app's SECRET_KEY and SECRET_KEY_FALLBACKS."""
    return second_factor.vault_from_config(current_app.config)


def _page(form: CodeForm, status: int = 200, recovery_codes: list[str] | None = None) -> Response:
    user = current_user
    # An unconfirmed secret no key opens any more (SECRET_KEY changed) is not shown: start again.
    secret = None if second_factor.enabled(user) else second_factor.readable_secret(user, vault())
    setting_up = secret is not None
    uri = second_factor.provisioning_uri(user, secret) if secret is not None else None
    response = make_response(render_template(
        "auth/two_factor.html",
        form=form,
        enabled=second_factor.enabled(user),
        setting_up=setting_up,
        secret=secret,
        qr=second_factor.qr_svg(uri) if uri else None,
        recovery_codes=recovery_codes,
        remaining=second_factor.remaining_recovery_codes(db_session(), user),
    ), status)
    response.headers["Cache-Control"] = "no-store"  # secrets and recovery codes stay out of caches
    return response


def _check_current_code(form: CodeForm) -> ResponseReturnValue | None:
    """None when the form holds a right, unused code from the app; else the page with the error.

    Attempts count against the account like sign-in attempts, so a borrowed session cannot guess codes.
    """
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        attempt = throttling.signin_attempt(current_user.email)
    except throttling.Throttled as refused:
        form.code.errors.append(_("Too many wrong codes. Try again in %(num)d minutes.",
                                  num=max(1, math.ceil(refused.retry_after / 60))))
        response = _page(form, 429)
        response.headers["Retry-After"] = str(refused.retry_after)
        return response
    if not second_factor.check_code(db_session(), current_user, vault(), form.code.data or ""):
        db_session().rollback()
        attempt.failed()
        form.code.errors.append(_("That code is not right. Use the current code from your app."))
        return _page(form, 422)
    db_session().commit()  # first: on SQLite the throttle's own transaction must not wait for this one
    attempt.succeeded()
    return None


@bp.get("/settings/two-factor")
@allow(ROLES)
def two_factor() -> ResponseReturnValue:
    return _page(CodeForm(formdata=None))


@bp.post("/settings/two-factor/start")
@allow(ROLES)
def two_factor_start() -> ResponseReturnValue:
    """A new secret to scan (replacing an unconfirmed one); nothing changes at sign-in until confirmed."""
    if second_factor.enabled(current_user):
        return redirect(url_for("auth.two_factor"))
    second_factor.begin_enrolment(current_user, vault())
    db_session().commit()
    return _page(CodeForm(formdata=None))


@bp.post("/settings/two-factor/confirm")
@allow(ROLES)
def two_factor_confirm() -> ResponseReturnValue:
    form = CodeForm()
    if second_factor.enabled(current_user) or not second_factor.has_secret(current_user):
        return redirect(url_for("auth.two_factor"))
    if not form.validate_on_submit():
        return _page(form, 422)
    dbs = db_session()
    codes = second_factor.confirm_enrolment(dbs, current_user, vault(), form.code.data or "")
    if codes is None:
        dbs.rollback()
        form.code.errors.append(
            _("That code is not right. Check the clock of your phone and use the current code.")
        )
        return _page(form, 422)
    audit.record(dbs, "user.second_factor_enabled", "user", current_user.id, {}, actor=current_user)
    dbs.commit()
    return _page(CodeForm(formdata=None), 201, recovery_codes=codes)


@bp.post("/settings/two-factor/off")
@allow(ROLES)
def two_factor_off() -> ResponseReturnValue:
    """Turning it off (or making new recovery codes) takes a current code, so a borrowed session cannot."""
    form = CodeForm()
    if not second_factor.enabled(current_user):
        return redirect(url_for("auth.two_factor"))
    refused = _check_current_code(form)
    if refused is not None:
        return refused
    dbs = db_session()
    second_factor.turn_off(dbs, current_user)
    audit.record(dbs, "user.second_factor_disabled", "user", current_user.id, {}, actor=current_user)
    dbs.commit()
    flash(_("Two-step sign-in is off."), "success")
    return redirect(url_for("auth.two_factor"))


@bp.post("/settings/two-factor/recovery-codes")
@allow(ROLES)
def two_factor_recovery_codes() -> ResponseReturnValue:
    form = CodeForm()
    if not second_factor.enabled(current_user):
        return redirect(url_for("auth.two_factor"))
    refused = _check_current_code(form)
    if refused is not None:
        return refused
    dbs = db_session()
    codes = second_factor.new_recovery_codes(dbs, current_user)
    audit.record(dbs, "user.recovery_codes_renewed", "user", current_user.id, {}, actor=current_user)
    dbs.commit()
    return _page(CodeForm(formdata=None), 201, recovery_codes=codes)

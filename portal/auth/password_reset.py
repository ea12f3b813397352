"""The page a one-time link from an admin opens: the user sets a new password, and every old session ends."""

from __future__ import annotations

from flask import current_app, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from portal.access import public
from portal.auth import signin
from portal.auth.views import bp
from portal.db import db_session
from portal.domain.accounts import reset_links
from portal.domain.users import MIN_PASSWORD_LENGTH, hash_password
from portal.rendering import render

DIFFERENT = _l("The two new passwords differ.")


class NewPasswordForm(FlaskForm):
    new = PasswordField(_l("New password"), render_kw={"autocomplete": "new-password"},
                        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=200)])
    repeat = PasswordField(_l("New password again"), render_kw={"autocomplete": "new-password"},
                           validators=[DataRequired(), EqualTo("new", message=DIFFERENT)])


def _refused(reason: str) -> ResponseReturnValue:
    messages = {
        "expired": _("This link has expired. Ask your admin for a new one."),
        "used": _("This link was already used. Ask your admin for a new one if you need it."),
    }
    message = messages.get(reason, _("This link is not valid. Ask your admin for a new one."))
    status = 404 if reason == "invalid" else 410
    return _no_referrer(render("auth/reset_password.html", refused=message, status=status))


def _no_referrer(response: ResponseReturnValue) -> ResponseReturnValue:
    # The token is in the address: never hand it to another site in a Referer header.
    response.headers["Referrer-Policy"] = "no-referrer"  # type: ignore[union-attr]
    response.headers["Cache-Control"] = "no-store"  # type: ignore[union-attr]
    return response


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str) -> ResponseReturnValue:
    session = db_session()
    try:
        user = reset_links.user_for(session, token, current_app.config["SECRET_KEY"])
    except reset_links.ResetLinkError as error:
        return _refused(error.reason)
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return _no_referrer(render("auth/reset_password.html", form=form, user=user,
                                   status=422 if form.is_submitted() else 200))
    try:
        reset_links.set_password(session, user, hash_password(form.new.data or ""))
    except reset_links.ResetLinkError as error:
        session.rollback()
        return _refused(error.reason)
    session.commit()
    signin.sign_out()  # whoever was signed in in this browser: the new password is someone else's to use
    flash(_("Your new password is set and every old session is signed out. Sign in with it."), "success")
    return redirect(url_for("auth.login"), 303)

"""Administration: the people who may use the portal, their sessions and second factors."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.access import allow
from portal.admin.forms import UserForm
from portal.db import db_session
from portal.domain.accounts import second_factor, sessions
from portal.domain.enums import Role
from portal.domain.models import User
from portal.domain.users import UserError, create_user, reset_second_factor, set_active, sign_out_everywhere
from portal.rendering import render

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@allow(Role.ADMIN)
def users() -> ResponseReturnValue:
    session = db_session()
    form = UserForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = create_user(session, form.email.data or "", form.name.data or "", form.role.data or "",
                               form.password.data or "", actor=current_user)
        except UserError as error:
            session.rollback()
            form.email.errors.append(str(error))
            status = 422
        else:
            session.commit()
            flash(_("User %(email)s created.", email=user.email), "success")
            return redirect(url_for("admin.users"))
    elif form.is_submitted():
        status = 422
    return _page(form, status)


def _page(form: UserForm, status: int = 200, confirm: User | None = None,
          action: str | None = None) -> ResponseReturnValue:
    session = db_session()
    people = session.scalars(select(User).order_by(User.role, User.email)).all()
    return render("admin/users.html", form=form, users=people, status=status, confirm=confirm, action=action,
                  live=sessions.live_counts(session), second_factor_on=second_factor.enabled)


# What each confirmed action on a user does; the confirmation names it again.
ACTIONS = ("sign_out", "deactivate", "reactivate", "reset_second_factor")


@bp.post("/users/<int:user_id>/<action>")
@allow(Role.ADMIN)
def user_action(user_id: int, action: str) -> ResponseReturnValue:
    """Sign a user out everywhere, (de)activate them, or reset their second factor, after confirming."""
    session = db_session()
    user = session.get(User, user_id)
    if user is None or action not in ACTIONS:
        flash(_("There is no such user or action."), "error")
        return redirect(url_for("admin.users"))
    if action == "deactivate" and user.id == current_user.id:
        flash(_("You cannot deactivate yourself."), "error")
        return redirect(url_for("admin.users"), 303)
    if request.form.get("confirmed") != "1":
        return _page(UserForm(formdata=None), confirm=user, action=action)
    if action == "sign_out":
        ended = sign_out_everywhere(session, user, actor=current_user)
        message = _("%(email)s is signed out everywhere (%(count)d sessions ended).", email=user.email,
                    count=ended)
    elif action in ("deactivate", "reactivate"):
        set_active(session, user, action == "reactivate", actor=current_user)
        message = (_("%(email)s is reactivated.", email=user.email) if user.active
                   else _("%(email)s is deactivated and signed out everywhere.", email=user.email))
    else:
        reset_second_factor(session, user, actor=current_user)
        message = _("Two-step sign-in of %(email)s is reset; they sign in with their password and can "
                    "set it up again.", email=user.email)
    session.commit()
    flash(message, "success")
    return redirect(url_for("admin.users"), 303)


from portal.admin import failed_work, tokens  # noqa: E402,F401  (register their pages on bp)

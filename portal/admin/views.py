"""Administration: the people who may use the portal, their roles, sessions, passwords and second factors."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.access import allow
from portal.admin.forms import EditUserForm, UserForm
from portal.admin.reset_mail import send_reset_link
from portal.db import db_session
from portal.domain.accounts import reset_links, second_factor, sessions
from portal.domain.enums import Role
from portal.domain.models import User
from portal.domain.users import (
    LastAdminError,
    UserError,
    change_role,
    create_user,
    reset_second_factor,
    set_active,
    sign_out_everywhere,
    update_profile,
)
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
                               form.password.data or "", actor=current_user, locale=form.locale.data,
                               timezone=form.timezone.data)
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
          action: str | None = None, reset_link: str | None = None) -> ResponseReturnValue:
    session = db_session()
    people = session.scalars(select(User).order_by(User.role, User.email)).all()
    response = render("admin/users.html", form=form, users=people, status=status, confirm=confirm,
                      action=action, live=sessions.live_counts(session),
                      second_factor_on=second_factor.enabled,
                      reset_link=reset_link, reset_hours=reset_links.LIFETIME // timedelta(hours=1))
    if reset_link:
        response.headers["Cache-Control"] = "no-store"  # the link is shown this once
    return response


# What each confirmed action on a user does; the confirmation names it again.
ACTIONS = ("sign_out", "deactivate", "reactivate", "reset_second_factor", "reset_password")


@bp.post("/users/<int:user_id>/<action>")
@allow(Role.ADMIN)
def user_action(user_id: int, action: str) -> ResponseReturnValue:
    """Sign a user out everywhere, (de)activate them, reset their second factor or make them a link to set a
    new password, after confirming."""
    session = db_session()
    user = session.get(User, user_id)
    if user is None or action not in ACTIONS:
        flash(_("There is no such user or action."), "error")
        return redirect(url_for("admin.users"))
    if action == "deactivate" and user.id == current_user.id:
        flash(_("You cannot deactivate yourself."), "error")
        return redirect(url_for("admin.users"), 303)
    if action == "reset_password" and not user.active:
        flash(_("Reactivate %(email)s first: a deactivated user cannot set a password.", email=user.email),
              "error")
        return redirect(url_for("admin.users"), 303)
    if request.form.get("confirmed") != "1":
        return _page(UserForm(formdata=None), confirm=user, action=action)
    if action == "reset_password":
        return _reset_password(user)
    if action == "sign_out":
        ended = sign_out_everywhere(session, user, actor=current_user)
        message = _("%(email)s is signed out everywhere (%(count)d sessions ended).", email=user.email,
                    count=ended)
    elif action in ("deactivate", "reactivate"):
        try:
            set_active(session, user, action == "reactivate", actor=current_user)
        except LastAdminError:
            session.rollback()
            flash(_("%(email)s is the last active admin; make someone else admin first.", email=user.email),
                  "error")
            return redirect(url_for("admin.users"), 303)
        message = (_("%(email)s is reactivated.", email=user.email) if user.active
                   else _("%(email)s is deactivated and signed out everywhere.", email=user.email))
    else:
        reset_second_factor(session, user, actor=current_user)
        message = _("Two-step sign-in of %(email)s is reset; they sign in with their password and can "
                    "set it up again.", email=user.email)
    session.commit()
    flash(message, "success")
    return redirect(url_for("admin.users"), 303)


def _reset_password(user: User) -> ResponseReturnValue:
    """E-mail the link when the portal sends mail; otherwise, or if that fails, show it to the admin once."""
    session = db_session()
    token = reset_links.make_token(user, current_app.config["SECRET_KEY"])
    link = url_for("auth.reset_password", token=token, _external=True)
    problem = send_reset_link(current_app.config, user, link)
    reset_links.record_made(session, user, current_user, sent_by_email=problem is None)
    session.commit()
    if problem is None:
        flash(_("A link to set a new password is on its way to %(email)s.", email=user.email), "success")
        return redirect(url_for("admin.users"), 303)
    if problem:
        flash(_("The e-mail could not be sent (%(reason)s); pass the link on yourself.", reason=problem),
              "error")
    return _page(UserForm(formdata=None), confirm=user, action="reset_password", reset_link=link)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@allow(Role.ADMIN)
def edit_user(user_id: int) -> ResponseReturnValue:
    """Change a user's name, role, language and time zone; a role change that signs them out is confirmed
    first."""
    session = db_session()
    user = session.get(User, user_id)
    if user is None:
        flash(_("There is no such user or action."), "error")
        return redirect(url_for("admin.users"))
    form = EditUserForm(obj=user, data={"role": user.role.value, "locale": user.locale or "",
                                        "timezone": user.timezone or ""})
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render("admin/user_edit.html", form=form, user=user, status=status)
    role = Role(form.role.data)
    signs_out = role != user.role and role != Role.ADMIN
    if signs_out and request.form.get("confirmed") != role.value:  # confirmed for exactly this role
        return render("admin/user_edit.html", form=form, user=user, confirm_role=role)
    try:
        ended = change_role(session, user, role, actor=current_user)
    except LastAdminError:
        session.rollback()
        form.role.errors = [_("%(email)s is the last active admin; make someone else admin first.",
                              email=user.email)]
        return render("admin/user_edit.html", form=form, user=user, status=422)
    update_profile(session, user, current_user, name=form.name.data or "", locale=form.locale.data,
                   timezone=form.timezone.data)
    session.commit()
    flash(_("%(email)s is saved.", email=user.email) if not signs_out else
          _("%(email)s is saved and signed out everywhere (%(count)d sessions ended).", email=user.email,
            count=ended), "success")
    return redirect(url_for("admin.users"), 303)


from portal.admin import failed_work, tokens  # noqa: E402,F401  (register their pages on bp)

"""Administration: the people who may use the portal."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.access import allow
from portal.admin.forms import UserForm
from portal.db import db_session
from portal.domain.enums import Role
from portal.domain.models import User
from portal.domain.users import UserError, create_user
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
    people = session.scalars(select(User).order_by(User.role, User.email)).all()
    return render("admin/users.html", form=form, users=people, status=status)


from portal.admin import tokens  # noqa: E402,F401  (registers the API token pages on bp)

"""Administration of API tokens: create one (its secret shown once), list them, revoke one."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from portal.access import allow
from portal.admin.views import bp
from portal.db import db_session
from portal.domain import api_tokens
from portal.domain.enums import Role
from portal.domain.models import ApiToken
from portal.labels import label
from portal.rendering import render


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=api_tokens.NAME_MAX)],
        description=_l("The program that will use it, such as “ERP sync”."),
    )
    role = SelectField(_l("Role"), description=_l("The token may do what a user with this role may."))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = [SelectChoice(role.value, label(role)) for role in Role]


def _page(
    form: TokenForm,
    status: int = 200,
    new: api_tokens.NewToken | None = None,
    confirm: ApiToken | None = None,
) -> ResponseReturnValue:
    response = render(
        "admin/tokens.html",
        form=form,
        tokens=api_tokens.list_tokens(db_session()),
        new=new,
        confirm=confirm,
        status=status,
    )
    if new is not None:
        response.headers["Cache-Control"] = "no-store"  # the secret must not stay in any cache
    return response


@bp.route("/tokens", methods=["GET", "POST"])
@allow(Role.ADMIN)
def tokens() -> ResponseReturnValue:
    session = db_session()
    form = TokenForm()
    if form.validate_on_submit():
        try:
            new = api_tokens.create_token(
                session, form.name.data or "", form.role.data or "", created_by=current_user
            )
        except api_tokens.TokenError as error:
            session.rollback()
            form.name.errors.append(str(error))
            return _page(form, 422)
        session.commit()
        # Shown in this response only (never flashed: the session cookie is signed, not secret).
        return _page(TokenForm(formdata=None), 201, new=new)
    return _page(form, 422 if form.is_submitted() else 200)


@bp.post("/tokens/<int:token_id>/revoke")
@allow(Role.ADMIN)
def revoke_token(token_id: int) -> ResponseReturnValue:
    session = db_session()
    token = session.get(ApiToken, token_id)
    if token is None:
        flash(_("There is no such token."), "error")
        return redirect(url_for("admin.tokens"))
    if request.form.get("confirmed") != "1":
        return _page(TokenForm(formdata=None), confirm=token)
    api_tokens.revoke_token(session, token_id, revoked_by=current_user)
    session.commit()
    flash(
        _("Token “%(name)s” revoked: requests with it are refused from now on.", name=token.name), "success"
    )
    return redirect(url_for("admin.tokens"))

"""Macros: named actions agents apply in one click; ops managers and admins write, order and retire them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from portal.access import ALL_ROLES, allow
from portal.db import db_session
from portal.domain import audit
from portal.domain.conversations import macros, templates
from portal.domain.models import Macro
from portal.messaging import wording
from portal.messaging.forms import MacroForm
from portal.messaging.views import EDITORS, bp
from portal.policies import palette
from portal.rendering import render, wants_fragment
from rules.decision import actions_text
from rules.diagnostics import excerpt


@dataclass(frozen=True)
class Shown:
    column: int
    message: str
    excerpt: str


@dataclass
class MacroCheck:
    """The actions text as the checker reads it: its problems, or its steps."""

    text: str = ""
    problems: list[Shown] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)


def check_actions(text: str) -> MacroCheck:
    normal = " ".join(text.split())
    result = MacroCheck(normal)
    try:
        actions = macros.parse(text)
    except macros.MacroError as error:
        result.problems = [
            Shown(p.column, wording.macro_problem(p), excerpt([normal], 1, p.column) if normal else "")
            for p in error.problems
        ]
        return result
    result.steps = [actions_text([action]) for action in actions]
    return result


def _ordered(session: Session) -> list[Macro]:
    return list(
        session.scalars(
            select(Macro)
            .order_by(Macro.position, Macro.name, Macro.id)
            .options(selectinload(Macro.created_by))
        )
    )


def _get(session: Session, macro_id: int) -> Macro:
    macro = session.get(Macro, macro_id)
    if macro is None:
        abort(404)
    return macro


def _help() -> dict[str, Any]:
    return {
        "actions": palette.actions(),
        "messages": [(name, wording.purpose_name(name)) for name in templates.PURPOSES],
    }


def _form_page(
    macro: Macro | None, form: MacroForm, check: MacroCheck | None = None, status: int = 200, notice: str = ""
) -> ResponseReturnValue:
    if check is None and form.actions.data:
        check = check_actions(form.actions.data)
    return render(
        "messaging/macro_form.html",
        status=status,
        macro=macro,
        form=form,
        check=check,
        notice=notice,
        **_help(),
    )


@bp.get("/macros")
@allow(ALL_ROLES)
def macros_index() -> ResponseReturnValue:
    session = db_session()
    rows = [(m, macros.describe(m)) for m in _ordered(session)]
    return render("messaging/macros.html", rows=rows, **_help())


@bp.post("/macros/check")
@allow(EDITORS)
def check_macro() -> ResponseReturnValue:
    """Problems (with their column) or the steps of the actions being typed; nothing is saved."""
    form = MacroForm()
    check = check_actions((form.actions.data or "")[: macros.MAX_ACTIONS_TEXT + 1])
    if not wants_fragment():
        return _form_page(None, form, check)
    return render("messaging/partials/_macro_check.html", check=check)


def _save(session: Session, macro: Macro | None) -> ResponseReturnValue:
    form = MacroForm()
    if request.method == "GET":
        return _form_page(macro, form)
    if not form.validate_on_submit():
        return _form_page(macro, form, status=422, notice=_("Not saved: fix the problems marked below."))
    check = check_actions(form.actions.data or "")
    if request.form.get("action") == "check":
        return _form_page(macro, form, check, notice=_("Checked. Not saved yet: press Save to keep it."))
    if check.problems:
        return _form_page(
            macro,
            form,
            check,
            status=422,
            notice=_("Not saved: the actions have problems (see below). Nothing was changed."),
        )
    name = " ".join((form.name.data or "").split())
    taken = session.scalar(select(Macro).where(Macro.name == name))
    if taken is not None and taken is not macro:
        form.name.errors = [_("There is already a macro called “%(name)s”.", name=name)]
        return _form_page(
            macro, form, check, status=422, notice=_("Not saved: fix the problems marked below.")
        )
    before = (macro.name, macro.actions, macro.description) if macro is not None else None
    try:
        saved = macros.save(
            session, name, form.actions.data or "", current_user, form.description.data or "", macro
        )
        if macro is None:
            saved.position = (session.scalar(select(func.max(Macro.position))) or 0) + 1
        session.flush()
        details: dict[str, Any] = {
            "name": saved.name, "actions": saved.actions, "description": saved.description or ""
        }
        if before is not None:
            details["before"] = {"name": before[0], "actions": before[1], "description": before[2] or ""}
        audit.record(
            session,
            "macro.created" if macro is None else "macro.changed",
            "macro",
            saved.id,
            details,
            actor=current_user,
        )
        session.commit()
    except macros.MacroError as error:
        session.rollback()
        return _form_page(
            macro,
            form,
            check,
            status=422,
            notice=_("Not saved: %(problem)s", problem=wording.macro_problem(error.problems[0])),
        )
    except IntegrityError:
        session.rollback()
        form.name.errors = [_("There is already a macro called “%(name)s”.", name=name)]
        return _form_page(
            macro, form, check, status=422, notice=_("Not saved: fix the problems marked below.")
        )
    flash(
        _(
            "Macro “%(name)s” saved. Agents see it on cases where its first step is possible.",
            name=saved.name,
        ),
        "success",
    )
    return redirect(url_for("messaging.macros_index"))


@bp.route("/macros/new", methods=["GET", "POST"])
@allow(EDITORS)
def new_macro() -> ResponseReturnValue:
    return _save(db_session(), None)


@bp.route("/macros/<int:macro_id>/edit", methods=["GET", "POST"])
@allow(EDITORS)
def edit_macro(macro_id: int) -> ResponseReturnValue:
    session = db_session()
    macro = _get(session, macro_id)
    if request.method == "GET":
        form = MacroForm(formdata=None, obj=macro)
        return _form_page(macro, form)
    return _save(session, macro)


@bp.post("/macros/<int:macro_id>/active")
@allow(EDITORS)
def set_macro_active(macro_id: int) -> ResponseReturnValue:
    """Deactivate (agents stop seeing it, nothing is lost) or reactivate a macro."""
    session = db_session()
    macro = _get(session, macro_id)
    wanted = request.form.get("active")
    if wanted not in ("0", "1"):
        flash(_("Choose whether the macro is active."), "error")
        return redirect(url_for("messaging.macros_index"))
    if macro.active != (wanted == "1"):
        macro.active = wanted == "1"
        audit.record(
            session,
            "macro.reactivated" if macro.active else "macro.deactivated",
            "macro",
            macro.id,
            {"name": macro.name},
            actor=current_user,
        )
        session.commit()
    if macro.active:
        flash(_("Macro “%(name)s” is active: agents see it again.", name=macro.name), "success")
    else:
        flash(_("Macro “%(name)s” is inactive: agents no longer see it.", name=macro.name), "success")
    return redirect(url_for("messaging.macros_index"))


@bp.post("/macros/<int:macro_id>/move")
@allow(EDITORS)
def move_macro(macro_id: int) -> ResponseReturnValue:
    """Move a macro one place up or down in the order agents see."""
    session = db_session()
    macro = _get(session, macro_id)
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        flash(_("Choose up or down."), "error")
        return redirect(url_for("messaging.macros_index"))
    ordered = _ordered(session)
    index = ordered.index(macro)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
        for position, each in enumerate(ordered, start=1):
            each.position = position
        audit.record(
            session,
            "macro.moved",
            "macro",
            macro.id,
            {"name": macro.name, "position": macro.position},
            actor=current_user,
        )
        session.commit()
    return redirect(url_for("messaging.macros_index", _anchor=f"macro-{macro.id}"))


@bp.route("/macros/<int:macro_id>/delete", methods=["GET", "POST"])
@allow(EDITORS)
def delete_macro(macro_id: int) -> ResponseReturnValue:
    """Confirm, then delete a macro for good; cases keep the record of where it was applied."""
    session = db_session()
    macro = _get(session, macro_id)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        details = {"name": macro.name, "actions": macro.actions, "description": macro.description or ""}
        session.delete(macro)
        audit.record(session, "macro.deleted", "macro", macro_id, details, actor=current_user)
        session.commit()
        flash(_("Macro “%(name)s” deleted.", name=details["name"]), "success")
        return redirect(url_for("messaging.macros_index"))
    return render("messaging/macro_delete.html", macro=macro)

"""Message templates: what each purpose tells buyers in each language; ops managers and admins edit them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.access import ALL_ROLES, allow
from portal.db import db_session
from portal.domain import audit
from portal.domain.conversations import templates
from portal.domain.conversations.texts import LANGUAGES
from portal.domain.enums import Role
from portal.domain.models import MessageTemplateVersion
from portal.messaging import wording
from portal.messaging.forms import ResetForm, TemplateForm
from portal.messaging.history import RESTORED_MARK, current_versions, history, in_force, word_diff
from portal.messaging.preview import Preview, preview
from portal.rendering import render, wants_fragment

bp = Blueprint("messaging", __name__, url_prefix="/messages")
EDITORS = (Role.OPS_MANAGER, Role.ADMIN)


@bp.context_processor
def _names() -> dict[str, Any]:
    return {"wording": wording, "max_subject": templates.MAX_SUBJECT, "max_body": templates.MAX_BODY}


@dataclass(frozen=True)
class FieldProblem:
    line: int
    column: int
    message: str


def _normal(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def field_problems(text: str, limit: int) -> list[FieldProblem]:
    """The checker's problems with a line and column the editor can show beside the field."""
    found = []
    # Past the limit nothing can be saved anyway; checking a megabyte pasted by mistake would only be slow.
    text = text[: limit + 1]
    for problem in templates.check(text, limit):
        offset = min(problem.offset, len(text))
        line_start = text.rfind("\n", 0, offset) + 1
        found.append(
            FieldProblem(
                text.count("\n", 0, offset) + 1,
                offset - line_start + 1,
                wording.sentence(problem.message, problem.params),
            )
        )
    return found


def _subject_problems(subject: str) -> list[FieldProblem]:
    # An empty subject is allowed: the shipped subject is used then.
    return field_problems(subject, templates.MAX_SUBJECT) if subject.strip() else []


def _target(purpose: str, language: str) -> None:
    if purpose not in templates.PURPOSES or language not in LANGUAGES:
        abort(404)


def _page(
    session: Session,
    purpose: str,
    language: str,
    *,
    form: TemplateForm | None = None,
    notice: str = "",
    notice_kind: str = "bad",
    status: int = 200,
    preview_result: Preview | None = None,
) -> ResponseReturnValue:
    current = templates.current_version(session, purpose, language)
    subject, body, is_default = in_force(current, purpose, language)
    if form is None:
        form = TemplateForm(
            formdata=None,
            data={"subject": subject, "body": body, "base": str(current.number if current else 0)},
        )
    default_subject, default_body, _default = in_force(None, purpose, language)
    entries, total = history(session, purpose, language)
    return render(
        "messaging/template.html",
        status=status,
        purpose=purpose,
        language=language,
        form=form,
        current=current,
        subject=subject,
        body=body,
        is_default=is_default,
        default_subject=default_subject,
        default_body=default_body,
        subject_problems=_subject_problems(_normal(form.subject.data)),
        body_problems=field_problems(_normal(form.body.data), templates.MAX_BODY),
        facts=[(name, wording.fact_help(name)) for name in templates.FACTS],
        entries=entries,
        total=total,
        notice=notice,
        notice_kind=notice_kind,
        preview=preview_result,
    )


@bp.get("/templates")
@allow(ALL_ROLES)
def templates_index() -> ResponseReturnValue:
    session = db_session()
    return render(
        "messaging/templates.html",
        purposes=list(templates.PURPOSES),
        languages=LANGUAGES,
        current=current_versions(session),
    )


@bp.get("/templates/<purpose>/<language>")
@allow(ALL_ROLES)
def template(purpose: str, language: str) -> ResponseReturnValue:
    _target(purpose, language)
    return _page(db_session(), purpose, language)


@bp.post("/templates/<purpose>/<language>/check")
@allow(EDITORS)
def check_template(purpose: str, language: str) -> ResponseReturnValue:
    """The problems of the text being typed, beside each field; nothing is saved."""
    _target(purpose, language)
    form = TemplateForm()
    if not wants_fragment():
        return _page(
            db_session(),
            purpose,
            language,
            form=form,
            notice_kind="info",
            notice=_("Checked. Not saved yet: press Save to keep your changes."),
        )
    subject, body = _normal(form.subject.data), _normal(form.body.data)
    return render(
        "messaging/partials/_check.html",
        subject_problems=_subject_problems(subject),
        body_problems=field_problems(body, templates.MAX_BODY),
        body_length=len(body),
        max_body=templates.MAX_BODY,
    )


@bp.post("/templates/<purpose>/<language>/preview")
@allow(EDITORS)
def preview_template(purpose: str, language: str) -> ResponseReturnValue:
    """The text being typed, filled with a real case's facts; nothing is saved or sent."""
    _target(purpose, language)
    session = db_session()
    form = TemplateForm()
    result = preview(
        session,
        purpose,
        language,
        _normal(form.subject.data)[: templates.MAX_SUBJECT],
        _normal(form.body.data)[: templates.MAX_BODY],
        request.form.get("case_number", ""),
    )
    if not wants_fragment():
        return _page(
            session,
            purpose,
            language,
            form=form,
            preview_result=result,
            notice_kind="info",
            notice=_("Not saved yet: press Save to keep your changes."),
        )
    return render(
        "messaging/partials/_preview.html",
        preview=result,
        facts=dict((name, wording.fact_help(name)) for name in templates.FACTS),
    )


def _record(session: Session, version: MessageTemplateVersion, **details: Any) -> None:
    audit.record(
        session,
        "message_template.saved",
        "message_template",
        f"{version.purpose}:{version.language}",
        {
            "number": version.number,
            "default": version.body is None,
            "comment": version.comment or "",
            **details,
        },
        actor=current_user,
    )


@bp.post("/templates/<purpose>/<language>")
@allow(EDITORS)
def save_template(purpose: str, language: str) -> ResponseReturnValue:
    """Save a new version; invalid text is refused (422) and nothing changes."""
    _target(purpose, language)
    session = db_session()
    form = TemplateForm()
    refused = _("Not saved: fix the problems marked below. Nothing was changed.")
    if not form.validate_on_submit():
        return _page(session, purpose, language, form=form, notice=refused, status=422)
    subject, body = " ".join((form.subject.data or "").split()), _normal(form.body.data).strip()
    if _subject_problems(subject) or field_problems(body, templates.MAX_BODY):
        return _page(session, purpose, language, form=form, notice=refused, status=422)
    current = templates.current_version(session, purpose, language)
    base = form.base.data or "0"
    if str(current.number if current else 0) != base:
        return _conflict(session, purpose, language, form, current)
    # The same text again (the shipped one included) would only add a version that changes nothing.
    if in_force(current, purpose, language)[:2] == (subject or in_force(None, purpose, language)[0], body):
        flash(_("Nothing changed, so no new version was saved."), "info")
        return redirect(url_for("messaging.template", purpose=purpose, language=language))
    try:
        version = templates.save(
            session, purpose, language, subject, body, current_user, form.comment.data or ""
        )
        session.flush()
        _record(session, version)
        session.commit()
    except templates.TemplateError as error:
        session.rollback()
        return _page(
            session,
            purpose,
            language,
            form=form,
            status=422,
            notice=_("Not saved: %(problem)s", problem=wording.sentence(error.message, error.params)),
        )
    except IntegrityError:
        session.rollback()
        return _conflict(
            session, purpose, language, form, templates.current_version(session, purpose, language)
        )
    flash(
        _(
            "Saved version %(number)s. Messages to buyers in %(language)s use it from now on.",
            number=version.number,
            language=wording.language_name(language),
        ),
        "success",
    )
    return redirect(url_for("messaging.template", purpose=purpose, language=language))


def _conflict(
    session: Session, purpose: str, language: str, form: TemplateForm, current: MessageTemplateVersion | None
) -> ResponseReturnValue:
    """Someone saved while this editor was open: keep the typed text, and make replacing theirs deliberate."""
    form.base.data = str(current.number if current else 0)
    who = current.created_by.name if current is not None and current.created_by else "—"
    notice = _(
        "%(who)s saved version %(number)s while you were editing. Your text is kept below; compare it "
        "with the history, then save again to replace theirs.",
        who=who,
        number=current.number if current else 0,
    )
    return _page(session, purpose, language, form=form, notice=notice, status=409)


@bp.route("/templates/<purpose>/<language>/default", methods=["GET", "POST"])
@allow(EDITORS)
def reset_template(purpose: str, language: str) -> ResponseReturnValue:
    """Confirm, then go back to the shipped default text (a new version, so it can be undone)."""
    _target(purpose, language)
    session = db_session()
    current = templates.current_version(session, purpose, language)
    subject, body, is_default = in_force(current, purpose, language)
    if is_default:
        flash(_("This message already uses the shipped default text."), "info")
        return redirect(url_for("messaging.template", purpose=purpose, language=language))
    form = ResetForm()
    if form.validate_on_submit() and form.confirm.data == "yes":
        version = templates.save(session, purpose, language, "", "", current_user, form.comment.data or "")
        session.flush()
        _record(session, version)
        session.commit()
        flash(
            _(
                "Back to the shipped default (version %(number)s). Restore an earlier version from the "
                "history at any time.",
                number=version.number,
            ),
            "success",
        )
        return redirect(url_for("messaging.template", purpose=purpose, language=language))
    default_subject, default_body, _default = in_force(None, purpose, language)
    return render(
        "messaging/reset.html",
        status=422 if form.errors else 200,
        purpose=purpose,
        language=language,
        form=form,
        current=current,
        subject_diff=word_diff(subject, default_subject),
        body_diff=word_diff(body, default_body),
    )


@bp.post("/templates/<purpose>/<language>/versions/<int:version_number>/restore")
@allow(EDITORS)
def restore_template(purpose: str, language: str, version_number: int) -> ResponseReturnValue:
    """Put an earlier version's text back in force as a new version; the history keeps everything."""
    _target(purpose, language)
    session = db_session()
    old = session.scalar(
        select(MessageTemplateVersion).where(
            MessageTemplateVersion.purpose == purpose,
            MessageTemplateVersion.language == language,
            MessageTemplateVersion.number == version_number,
        )
    )
    if old is None:
        abort(404)
    current = templates.current_version(session, purpose, language)
    back = url_for("messaging.template", purpose=purpose, language=language)
    if in_force(current, purpose, language) == in_force(old, purpose, language):
        flash(_("The text of version %(number)s is already in force.", number=version_number), "info")
        return redirect(back)
    try:
        version = templates.save(
            session,
            purpose,
            language,
            old.subject or "",
            old.body or "",
            current_user,
            f"{RESTORED_MARK}{version_number}",
        )
        session.flush()
        _record(session, version, restored_from=version_number)
        session.commit()
    except templates.TemplateError as error:
        # A placeholder that existed then may be gone now: the old text cannot be used as it is.
        session.rollback()
        flash(
            _(
                "Version %(number)s cannot be restored: %(problem)s",
                number=version_number,
                problem=wording.sentence(error.message, error.params),
            ),
            "error",
        )
        return redirect(back)
    except IntegrityError:
        session.rollback()
        flash(_("Someone saved this message at the same moment. Look at the history and try again."), "error")
        return redirect(back)
    flash(
        _(
            "Restored: version %(new)s has the text of version %(old)s.",
            new=version.number,
            old=version_number,
        ),
        "success",
    )
    return redirect(back)


from portal.messaging import macro_views as _macro_views  # noqa: E402, F401  (registers the macro routes)

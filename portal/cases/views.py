"""The case page; importing this module registers the whole cases area (queue, page, actions)."""

from __future__ import annotations

from typing import Any

from flask import abort, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, gettext
from flask_login import current_user
from sqlalchemy import select, update

from portal.access import ALL_ROLES, STAFF, allow, can
from portal.cases.blueprint import bp
from portal.db import db_session
from portal.domain import lifecycle, lookups, money
from portal.domain.conversations import macros, templates
from portal.domain.enums import Disposition, EvidenceKind, InspectionResult, MessageDirection, Role
from portal.domain.models import Case, Message, PolicyVersion, User
from portal.domain.policy_engine import explain_stored
from portal.domain.queueflow import presence
from portal.domain.returns.labels import MAX_LABEL_BYTES
from portal.domain.types import utcnow
from portal.domain.uploads import MB
from portal.main.views import send_stored
from portal.rendering import render
from portal.timeline import build_timeline

# Operations that move money or end the request ask for confirmation first.
CONFIRM = {
    "refund",
    "refund_without_return",
    "pre_refund",
    "partial_refund",
    "coupon",
    "reject",
    "close",
    "resolve",
    "confirm_refund",
}
# Operations whose form needs more than a button.
WITH_FIELDS = {
    "reject",
    "request_evidence",
    "partial_refund",
    "coupon",
    "mark_return_shipped",
    "record_inspection",
    "ship_exchange",
    "respond_dispute",
}


def load_case(number: str) -> Case:
    case = lookups.load_case(db_session(), number=number)
    if case is None:
        abort(404)
    return case


def case_page(
    case: Case,
    status: int = 200,
    draft: dict[str, Any] | None = None,
    error: str | None = None,
    conflict: lifecycle.ConflictError | None = None,
    confirm: str | None = None,
    preview: dict[str, Any] | None = None,
    field_error: bool = False,
) -> ResponseReturnValue:
    """The case page; after a refused or conflicting change it keeps what the user typed in `draft`.

    `preview` is what a confirmed operation will come to (the amount of "20%"); `field_error` shows
    `error` beside the field of the form that was sent rather than above the page.
    """
    lang = str(get_locale())
    staff = can("cases.act")
    session = db_session()
    unread = [m.id for m in case.messages if m.direction == MessageDirection.INBOUND and m.seen_at is None]
    agents = (
        session
        .scalars(
            select(User)
            .where(User.role.in_([Role.CS_AGENT, Role.OPS_MANAGER]), User.active.is_(True))
            .order_by(User.name)
        )
        .all()
        if staff
        else []
    )
    version_ids = {d.policy_version_id for d in case.decisions if d.policy_version_id is not None}
    policy_numbers = (
        {
            version_id: number
            for version_id, number in session.execute(
                select(PolicyVersion.id, PolicyVersion.number).where(PolicyVersion.id.in_(version_ids))
            )
        }
        if version_ids
        else {}
    )
    response = render(
        "cases/show.html",
        case=case,
        timeline=build_timeline(case),
        explanations={d.id: explain_stored(d, lang) for d in case.decisions},
        policy_numbers=policy_numbers,
        operations=lifecycle.available(case) if staff else [],
        confirm_ops=CONFIRM,
        field_ops=WITH_FIELDS,
        remaining=money.remaining(case),
        templates=templates.offered(session, case) if staff else [],
        macros=macros.offered(session, case) if staff else [],
        unread=set(unread),
        agents=agents,
        evidence_kinds=list(EvidenceKind),
        inspection_results=list(InspectionResult),
        dispositions=list(Disposition),
        label_limit_mb=MAX_LABEL_BYTES // MB,
        draft=draft or {},
        error=error,
        conflict=conflict,
        confirm=confirm,
        preview=preview or {},
        field_error=field_error,
        viewers=presence.viewers(session, [case.id], current_user.id).get(case.id, []),
        heartbeat=int(presence.HEARTBEAT.total_seconds()),
        status=status,
    )
    if staff and unread:
        _mark_seen(case, unread)
    return response


def _mark_seen(case: Case, message_ids: list[int]) -> None:
    """An agent has the buyer's new messages in front of them: they are no longer unread.

    Plain UPDATEs, not the ORM: reading a case is not a change an agent's open form should conflict with.
    """
    session = db_session()
    now = utcnow()
    session.execute(update(Message).where(Message.id.in_(message_ids)).values(seen_at=now))
    session.execute(update(Case).where(Case.id == case.id).values(unread_messages=0))
    session.commit()


@bp.get("/<number>")
@allow(ALL_ROLES)
def show(number: str) -> ResponseReturnValue:
    case = load_case(number)
    if can("cases.heartbeat"):
        # Opening the page is the first heartbeat: colleagues see it at once, not a beat later.
        presence.beat(db_session(), case.id, current_user.id)
        db_session().commit()
    return case_page(case)


@bp.get("/<number>/reply-template")
@allow(STAFF)
def reply_template(number: str) -> ResponseReturnValue:
    """The chosen template filled in for this case, to read and edit before sending (htmx), or why it
    cannot be sent for this case."""
    case = load_case(number)
    name = request.args.get("template", "")
    body, problem = "", None
    if name:
        try:
            body = templates.render(db_session(), case, name).body
        except templates.TemplateError as error:
            problem = gettext(error.message, **error.params)
    return render("cases/partials/_reply_body.html", case=case, body=body, problem=problem)


@bp.get("/<number>/messages/<int:message_id>/attachment")
@allow(ALL_ROLES)
def message_attachment(number: str, message_id: int) -> ResponseReturnValue:
    """The file sent with a buyer message, such as the return instructions."""
    message = db_session().get(Message, message_id)
    if message is None or message.case.number != number or not message.attachment_sha256:
        abort(404)
    return send_stored(message.attachment_sha256, message.attachment_name or "attachment")


from portal.cases import actions, flow_views, queue_views, return_views  # noqa: E402,F401  (register their routes on bp)

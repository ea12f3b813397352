"""The case page; importing this module registers the whole cases area (queue, page, actions)."""

from __future__ import annotations

from typing import Any

from flask import abort, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from sqlalchemy import select

from portal.access import ALL_ROLES, STAFF, allow, can
from portal.cases.blueprint import bp
from portal.db import db_session
from portal.domain import buyer_messages, lifecycle, lookups, money
from portal.domain.enums import Disposition, EvidenceKind, InspectionResult, Role
from portal.domain.models import Case, Message, User
from portal.domain.policy_engine import explain_stored
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
) -> ResponseReturnValue:
    """The case page; after a refused or conflicting change it keeps what the user typed in `draft`."""
    lang = str(get_locale())
    staff = can("cases.act")
    agents = (
        db_session()
        .scalars(
            select(User)
            .where(User.role.in_([Role.CS_AGENT, Role.OPS_MANAGER]), User.active.is_(True))
            .order_by(User.name)
        )
        .all()
        if staff
        else []
    )
    return render(
        "cases/show.html",
        case=case,
        timeline=build_timeline(case),
        explanations={d.id: explain_stored(d, lang) for d in case.decisions},
        operations=lifecycle.available(case) if staff else [],
        confirm_ops=CONFIRM,
        field_ops=WITH_FIELDS,
        remaining=money.remaining(case),
        templates=buyer_messages.template_names(),
        agents=agents,
        evidence_kinds=list(EvidenceKind),
        inspection_results=list(InspectionResult),
        dispositions=list(Disposition),
        draft=draft or {},
        error=error,
        conflict=conflict,
        confirm=confirm,
        status=status,
    )


@bp.get("/<number>")
@allow(ALL_ROLES)
def show(number: str) -> ResponseReturnValue:
    return case_page(load_case(number))


@bp.get("/<number>/reply-template")
@allow(STAFF)
def reply_template(number: str) -> ResponseReturnValue:
    """The chosen template filled in for this case, to edit before sending (htmx)."""
    case = load_case(number)
    name = request.args.get("template", "")
    body = buyer_messages.render(case, name) if buyer_messages.resolve_name(name) else ""
    return render("cases/partials/_reply_body.html", case=case, body=body)


@bp.get("/<number>/messages/<int:message_id>/attachment")
@allow(ALL_ROLES)
def message_attachment(number: str, message_id: int) -> ResponseReturnValue:
    """The file sent with a buyer message, such as the return instructions."""
    message = db_session().get(Message, message_id)
    if message is None or message.case.number != number or not message.attachment_sha256:
        abort(404)
    return send_stored(message.attachment_sha256, message.attachment_name or "attachment")


from portal.cases import actions, queue_views  # noqa: E402,F401  (register their routes on bp)

"""Everything an agent does to a case: each a form post, checked against the case version the agent saw."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from flask import current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.access import STAFF, allow
from portal.cases.blueprint import bp
from portal.cases.summary import what_moved
from portal.cases.views import CONFIRM, case_page, load_case
from portal.db import db_session
from portal.domain import events, lifecycle, money
from portal.domain import operations as ops
from portal.domain.conversations import macros, outbox
from portal.domain.enums import Disposition, EvidenceKind, InspectionResult, Role
from portal.domain.evidence import add_evidence
from portal.domain.lifecycle import Actor, ConflictError, LifecycleError
from portal.domain.models import Case, Macro, Message, User
from portal.domain.text_limits import bounded

Handler = Callable[[Session, Case, Actor, dict[str, str]], object]


def _choice(enum_type: type, value: str):  # type: ignore[no-untyped-def]
    try:
        return enum_type(value)
    except ValueError:
        raise LifecycleError(lifecycle.N_("Choose one of the listed options.")) from None


def _share(form: dict[str, str]) -> tuple[Decimal | None, Decimal | None]:
    """The agent's "12.50" or "20%" as (amount, percent)."""
    text = form.get("amount", "").strip()
    if text.endswith("%"):
        return None, ops.parse_amount(text[:-1])
    return ops.parse_amount(text), None


def _partial(session: Session, case: Case, actor: Actor, form: dict[str, str]) -> object:
    amount, percent = _share(form)
    reason = form.get("reason", "")
    return ops.partial_refund(session, case, actor, amount=amount, percent=percent, reason=reason)


def _check_partial(case: Case, form: dict[str, str]) -> dict[str, object]:
    amount, percent = _share(form)
    bounded("reason", form.get("reason", ""))
    return {"amount": ops.partial_refund_value(case, amount, percent), "percent": percent}


def _check_coupon(case: Case, form: dict[str, str]) -> dict[str, object]:
    bounded("reason", form.get("reason", ""))
    return {"amount": ops.coupon_value(case, ops.parse_amount(form.get("amount", "")))}


def _check_full(case: Case, form: dict[str, str]) -> dict[str, object]:
    if money.has_full_refund(case):
        raise LifecycleError(lifecycle.N_("This case already has a full refund."))
    left = money.remaining(case)
    if left <= 0:
        raise LifecycleError(lifecycle.N_("Nothing is left to refund on this case."))
    return {"amount": left}


# Each confirmed operation checks what the agent typed before the confirm box shows, changing nothing,
# and says what it will come to ("20%" of the case is 9.00 USD).
CONFIRM_CHECKS: dict[str, Callable[[Case, dict[str, str]], dict[str, object]]] = {
    "refund": _check_full,
    "refund_without_return": _check_full,
    "pre_refund": _check_full,
    "partial_refund": _check_partial,
    "coupon": _check_coupon,
    "reject": lambda case, form: {"reason": ops.rejection_reason(form.get("reason", ""))},
}


def _inspection(session: Session, case: Case, actor: Actor, form: dict[str, str]) -> object:
    ops.record_inspection(
        session,
        case,
        actor,
        _choice(InspectionResult, form.get("result", "")),
        _choice(Disposition, form.get("disposition", "")),
        form.get("notes", ""),
        form.get("inspector", ""),
    )
    return events.handle_event(session, case, "inspection_done")


def _shipped(session: Session, case: Case, actor: Actor, form: dict[str, str]) -> object:
    ops.mark_return_shipped(
        session, case, actor, form.get("carrier", "").strip(), form.get("tracking", "").strip()
    )
    return events.handle_event(session, case, "return_shipped")


def _received(session: Session, case: Case, actor: Actor, form: dict[str, str]) -> object:
    ops.mark_return_received(session, case, actor)
    return events.handle_event(session, case, "return_received")


HANDLERS: dict[str, Handler] = {
    "start_review": lambda s, c, a, f: ops.start_review(s, c, a),
    "approve_return": lambda s, c, a, f: ops.approve_return(s, c, a),
    "mark_return_shipped": _shipped,
    "mark_return_received": _received,
    "record_inspection": _inspection,
    "refund": lambda s, c, a, f: ops.full_refund(s, c, a, "refund"),
    "refund_without_return": lambda s, c, a, f: ops.full_refund(s, c, a, "refund_without_return"),
    "pre_refund": lambda s, c, a, f: ops.full_refund(s, c, a, "pre_refund"),
    "partial_refund": _partial,
    "coupon": lambda s, c, a, f: ops.coupon(
        s, c, a, ops.parse_amount(f.get("amount", "")), f.get("reason", "")
    ),
    "confirm_refund": lambda s, c, a, f: ops.confirm_refund(s, c, a),
    "exchange": lambda s, c, a, f: ops.exchange(s, c, a),
    "ship_exchange": lambda s, c, a, f: ops.ship_exchange(
        s, c, a, f.get("carrier", ""), f.get("tracking", "")
    ),
    "request_evidence": lambda s, c, a, f: ops.request_evidence(s, c, a, f.get("kind", "")),
    "request_redelivery": lambda s, c, a, f: ops.request_redelivery(s, c, a),
    "respond_dispute": lambda s, c, a, f: ops.respond_dispute(s, c, a, f.get("note", "")),
    "reject": lambda s, c, a, f: ops.reject(s, c, a, f.get("reason", "")),
    "resolve": lambda s, c, a, f: ops.resolve(s, c, a),
    "close": lambda s, c, a, f: ops.close(s, c, a),
    "hold": lambda s, c, a, f: ops.hold(s, c, a),
    "release": lambda s, c, a, f: ops.release(s, c, a),
    "escalate": lambda s, c, a, f: ops.escalate(s, c, a),
}


def _assign(session: Session, case: Case, actor: Actor, form: dict[str, str]) -> None:
    assignee_id = form.get("assignee", "")
    user = None
    if assignee_id:
        user = session.get(User, int(assignee_id)) if assignee_id.isdigit() else None
        if user is None or user.role not in (Role.CS_AGENT, Role.OPS_MANAGER) or not user.active:
            raise LifecycleError(lifecycle.N_("Choose an agent from the list."))
    if (case.assignee_id or None) != (user.id if user else None):
        ops.assign_to(session, case, actor, user)
    queue = form.get("queue", "").strip()
    if queue and queue != case.queue:
        ops.assign_queue(session, case, actor, queue)


def _evidence(session: Session, case: Case, actor: Actor, form: dict[str, str]) -> None:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise LifecycleError(lifecycle.N_("Choose a file to add."))
    add_evidence(
        session, current_app.extensions["attachments"], case, actor, data=upload.read(),
        filename=upload.filename, kind=_choice(EvidenceKind, form.get("kind", "")),
        caption=form.get("caption"),
    )


EXTRA: dict[str, Handler] = {
    "note": lambda s, c, a, f: ops.add_note(s, c, a, f.get("note", "")),
    "tag": lambda s, c, a, f: ops.add_tag(s, c, a, f.get("tag", "")),
    "reply": lambda s, c, a, f: ops.reply(s, c, a, f.get("body", ""), f.get("template") or None),
    "assign": _assign,
    "evidence": _evidence,
}
DONE = {
    "note": _l("Note added."),
    "tag": _l("Tag added."),
    "reply": _l("Reply queued for the buyer."),
    "assign": _l("Assignment saved."),
    "evidence": _l("Evidence added."),
    "macro": _l("Macro applied."),
    "retry": _l("The message will be sent again."),
    "label": _l("Label added; it goes to the buyer with the return instructions."),
    "claimed": _l("Insurance claim marked as made."),
}
# Working on a case makes it yours when nobody has it yet; notes, tags and assignments do not.
TAKES_THE_CASE = set(HANDLERS) | {"macro", "reply", "evidence"}


def _take_if_unassigned(session: Session, case: Case, name: str, actor: Actor) -> None:
    """Assign an unassigned case to the agent who acts on it, as a manual assignment would (audited)."""
    user = actor.user
    if (
        name in TAKES_THE_CASE
        and case.assignee_id is None
        and user is not None
        and user.role in (Role.CS_AGENT, Role.OPS_MANAGER)
        and lifecycle.allowed(case, "assign_to")
    ):
        ops.assign_to(session, case, actor, user)


def _perform(number: str, name: str, handler: Handler) -> ResponseReturnValue:
    session = db_session()
    case = load_case(number)
    form = {key: value for key, value in request.form.items() if key != "csrf_token"}
    seen = form.get("version", "")
    by_field = form.get("_op") == name
    try:
        lifecycle.check_version(case, int(seen) if seen.isdigit() else None)
        if name in CONFIRM and form.get("confirmed") != "1":
            lifecycle.require(case, name)
            check = CONFIRM_CHECKS.get(name)
            preview = check(case, form) if check else {}
            return case_page(case, draft=form, confirm=name, preview=preview)
        session.info["step_events"] = []
        actor = Actor.person(current_user)
        _take_if_unassigned(session, case, name, actor)
        handler(session, case, actor, form)
        moved = [e for e in session.info.pop("step_events", []) if e.case is case]
        session.commit()
    except ConflictError as conflict:
        session.rollback()
        return case_page(load_case(number), status=409, draft=form, conflict=conflict)
    except StaleDataError:
        # Someone saved between our check and our write.
        session.rollback()
        fresh = load_case(number)
        last = fresh.events[-1] if fresh.events else None
        return case_page(
            fresh,
            status=409,
            draft=form,
            conflict=ConflictError(fresh, last.actor_label if last else "someone", fresh.updated_at),
        )
    except LifecycleError as error:
        session.rollback()
        return case_page(
            load_case(number),
            status=422,
            draft=form,
            error=gettext(error.message, **error.params),
            field_error=by_field,
        )
    flash(what_moved(moved, str(DONE.get(name, _l("Saved.")))), "success")
    # Post/redirect/get: the address is the case page again, and reloading it sends nothing.
    return redirect(url_for("cases.show", number=number))


@bp.post("/<number>/do/<operation>")
@allow(STAFF)
def act(number: str, operation: str) -> ResponseReturnValue:
    handler = HANDLERS.get(operation)
    if handler is None:
        return case_page(load_case(number), status=404, error=gettext("There is no such action."))
    return _perform(number, operation, handler)


@bp.post("/<number>/macros/<int:macro_id>")
@allow(STAFF)
def apply_macro(number: str, macro_id: int) -> ResponseReturnValue:
    """One click: the macro's actions and their message, all or nothing."""
    macro = db_session().get(Macro, macro_id)
    if macro is None or not macro.active:
        return case_page(load_case(number), status=404, error=gettext("There is no such macro."))

    def run(session: Session, case: Case, actor: Actor, form: dict[str, str]) -> object:
        return macros.apply(session, case, macro, actor)

    return _perform(number, "macro", run)


@bp.post("/<number>/messages/<int:message_id>/retry")
@allow(STAFF)
def retry_message(number: str, message_id: int) -> ResponseReturnValue:
    """Send a message that failed for good once more."""

    def run(session: Session, case: Case, actor: Actor, form: dict[str, str]) -> object:
        message = session.get(Message, message_id)
        if message is None or message.case_id != case.id or not outbox.retry(session, message):
            raise LifecycleError(lifecycle.N_("That message is not failed any more; nothing was changed."))
        return lifecycle.record(session, case, actor, "message_retried", {"message_id": message_id})

    return _perform(number, "retry", run)


@bp.post("/<number>/<any(note, tag, reply, assign, evidence):what>")
@allow(STAFF)
def update(number: str, what: str) -> ResponseReturnValue:
    return _perform(number, what, EXTRA[what])

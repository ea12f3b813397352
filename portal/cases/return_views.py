"""An approved return's prepaid label (upload, download) and its return-shipping insurance claim."""

from __future__ import annotations

from flask import abort, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from portal.access import ALL_ROLES, STAFF, allow
from portal.cases.actions import (
    _perform as perform,  # the one way a case changes: version check, errors, flash
)
from portal.cases.blueprint import bp
from portal.cases.views import load_case
from portal.documents.instructions import attach_instructions_to_message
from portal.documents.render import RenderError
from portal.domain.lifecycle import N_, Actor, LifecycleError
from portal.domain.models import Case
from portal.domain.returns import insurance, labels
from portal.main.views import send_stored


def _add_label(session: Session, case: Case, actor: Actor, form: dict[str, str]) -> object:
    upload = request.files.get("label")
    if upload is None or not upload.filename:
        raise LifecycleError(N_("Choose the label's PDF file."))
    # One byte more than allowed is enough to know it is too large.
    data = upload.read(labels.MAX_LABEL_BYTES + 1)
    store = current_app.extensions["attachments"]
    ret, message = labels.add_label(session, store, case, actor, data, upload.filename)
    try:
        attach_instructions_to_message(session, store, message, case, ret)
    except RenderError:
        # The instructions could not be made now; the label itself still reaches the buyer.
        message.attachment_sha256 = ret.label_sha256
        message.attachment_name = ret.label_name
    return ret


@bp.post("/<number>/return-label")
@allow(STAFF)
def add_return_label(number: str) -> ResponseReturnValue:
    return perform(number, "label", _add_label)


@bp.get("/<number>/returns/<rma>/label.pdf")
@allow(ALL_ROLES)
def return_label(number: str, rma: str) -> ResponseReturnValue:
    case = load_case(number)
    ret = next((r for r in case.returns if r.rma_number == rma), None)
    if ret is None or not ret.label_sha256:
        abort(404)
    return send_stored(ret.label_sha256, ret.label_name or "return-label.pdf")


@bp.post("/<number>/insurance-claims/<int:claim_id>/claimed")
@allow(STAFF)
def insurance_claimed(number: str, claim_id: int) -> ResponseReturnValue:
    def run(session: Session, case: Case, actor: Actor, form: dict[str, str]) -> object:
        return insurance.mark_claimed(session, case, claim_id, actor)

    return perform(number, "claimed", run)

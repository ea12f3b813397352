"""Joining the case lifecycle: an approved return's message to the buyer carries the instructions PDF."""

from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from portal.documents.instructions import attach_instructions_to_message
from portal.documents.render import RenderError
from portal.domain import hooks
from portal.domain.models import Case, Message, ReturnShipment

log = logging.getLogger("portal.documents")


@hooks.on_return_approved
def attach_return_instructions(session: Session, case: Case, ret: ReturnShipment, message: Message) -> None:
    """Attach the PDF; if it cannot be made now, the message still goes and the case page offers the PDF."""
    if not has_app_context():
        return
    try:
        attach_instructions_to_message(session, current_app.extensions["attachments"], message, case, ret)
    except RenderError:
        log.warning(
            "return instructions for %s could not be rendered; sent without attachment", ret.rma_number
        )

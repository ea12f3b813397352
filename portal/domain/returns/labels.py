"""Prepaid return labels: a carrier's or the platform's PDF an agent attaches to an approved return."""

from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter
from sqlalchemy.orm import Session

from portal.domain.attachments import AttachmentStore, store_attachment
from portal.domain.enums import ReturnStatus
from portal.domain.lifecycle import N_, Actor, LifecycleError, record
from portal.domain.models import Case, Message, ReturnShipment
from portal.domain.operations import queue_message
from portal.domain.uploads import MB, check_pdf, safe_filename, sniff

PDF_TYPE = "application/pdf"
# A label is a page or two; anything much larger is not one (and would bloat every message it rides on).
MAX_LABEL_BYTES = 2 * MB
# The buyer has not shipped yet: a label still helps.
LABEL_STATUSES = (ReturnStatus.APPROVED, ReturnStatus.LABEL_ISSUED)


def labelled_return(case: Case) -> ReturnShipment:
    """The case's return that may take a label; raises when there is none."""
    ret = case.returns[-1] if case.returns else None
    if ret is None or ret.status not in LABEL_STATUSES:
        raise LifecycleError(
            N_("A label can be added only to an approved return that the buyer has not shipped yet.")
        )
    return ret


def check_label(data: bytes) -> None:
    """A real PDF of at most MAX_LABEL_BYTES; raises with a sentence for the agent otherwise."""
    if not data:
        raise LifecycleError(N_("The file is empty."))
    if len(data) > MAX_LABEL_BYTES:
        raise LifecycleError(
            N_("The label is %(size)d MB; a label may be at most %(limit)d MB."),
            size=len(data) // MB + 1,
            limit=MAX_LABEL_BYTES // MB,
        )
    if sniff(data) != PDF_TYPE:
        raise LifecycleError(N_("A label must be a PDF file, as carriers and the platform provide it."))
    check_pdf(data)
    # The label goes out appended to the instructions: a file pypdf reads but cannot copy is no use.
    try:
        writer = PdfWriter()
        writer.append(PdfReader(io.BytesIO(data), strict=False))
        writer.write(io.BytesIO())
    except Exception:  # noqa: BLE001 - pypdf raises many kinds of error on a hostile file
        raise LifecycleError(N_("The PDF is damaged or not really a PDF.")) from None


def add_label(
    session: Session,
    store: AttachmentStore,
    case: Case,
    actor: Actor,
    data: bytes,
    filename: str | None,
) -> tuple[ReturnShipment, Message]:
    """Keep the label on the return and queue the message that sends it to the buyer; the caller
    attaches the file (the instructions with the label) to the returned message."""
    ret = labelled_return(case)
    check_label(data)
    attachment = store_attachment(session, store, data, PDF_TYPE)
    ret.label_sha256 = attachment.sha256
    ret.label_name = safe_filename(filename, "return-label.pdf")
    ret.status = ReturnStatus.LABEL_ISSUED
    record(session, case, actor, "return_label_added", {"rma": ret.rma_number, "file": ret.label_name})
    session.flush()
    message = queue_message(session, case, "return_label", actor)
    return ret, message

"""Evidence a person adds to a case (the case page and the API): checked, stored, on the timeline,
and shown to the policy."""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.domain import events, lifecycle
from portal.domain.attachments import AttachmentStore, store_attachment
from portal.domain.enums import EVIDENCE_ORIGIN, EvidenceKind, EvidenceSource
from portal.domain.lifecycle import Actor
from portal.domain.models import Case, EvidenceItem
from portal.domain.text_limits import bounded
from portal.domain.uploads import check_upload, safe_filename


def add_evidence(
    session: Session,
    store: AttachmentStore,
    case: Case,
    actor: Actor,
    *,
    data: bytes,
    filename: str,
    kind: EvidenceKind,
    caption: str | None = None,
    source: EvidenceSource = EvidenceSource.SELLER,
) -> EvidenceItem:
    """Check and store an uploaded file as evidence, as the case page does, and tell the policy."""
    content_type = check_upload(data, kind)
    attachment = store_attachment(session, store, data, content_type)
    item = EvidenceItem(
        case=case,
        kind=kind,
        source=source,
        sha256=attachment.sha256,
        filename=safe_filename(filename),
        caption=bounded("caption", caption) or None,
        uploaded_by_id=actor.user.id if actor.user else None,
    )
    session.add(item)
    lifecycle.record(
        session,
        case,
        actor,
        "evidence_added",
        {"kind": kind.value, "sha256": attachment.sha256, "from": EVIDENCE_ORIGIN[source]},
    )
    events.handle_event(session, case, "evidence_added")
    session.flush()
    return item

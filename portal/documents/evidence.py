"""The evidence pack of a case: everything that wins a dispute, with a manifest of exhibit hashes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import current_app, render_template
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from portal.audit.keys import signer
from portal.documents import render
from portal.documents.pack_proof import MANIFEST_NAME, PROOF_NAME, SEAL_ACTION, build_proof, seal_details
from portal.documents.render import render_pdf
from portal.domain import audit, audit_tree, lookups
from portal.domain.attachments import AttachmentStore
from portal.domain.audit_signing import Checkpoint
from portal.domain.enums import EvidenceKind, EvidenceSource, RefundStatus
from portal.domain.models import (
    Attachment,
    AuditEntry,
    Case,
    PolicyVersion,
    User,
)
from portal.domain.types import utcnow
from portal.i18n import format_money
from portal.labels import label

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Exhibit photos are downsampled to this resolution in the PDF; the manifest names the original's hash.
PHOTO_DPI = 150
GENERATOR = "Aftersales Desk evidence pack"


@dataclass
class Exhibit:
    label: str
    section: str
    kind: str
    source: str
    filename: str
    caption: str
    sha256: str
    size: int | None
    content_type: str
    added_at: datetime
    intact: bool  # the stored bytes still hash to the recorded SHA-256

    @property
    def embeddable(self) -> bool:
        return self.intact and self.content_type in IMAGE_TYPES

    def to_json(self) -> dict[str, Any]:
        return {
            "exhibit": self.label,
            "section": self.section,
            "kind": self.kind,
            "source": self.source,
            "filename": self.filename,
            "caption": self.caption,
            "sha256": self.sha256,
            "size": self.size,
            "content_type": self.content_type,
            "added_at": self.added_at.isoformat(),
            "intact": self.intact,
        }


@dataclass
class EvidencePack:
    case_number: str
    pdf: bytes
    sha256: str
    manifest: dict[str, Any]

    @property
    def filename(self) -> str:
        return pack_filename(self.case_number)


def pack_filename(case_number: str) -> str:
    return f"evidence-pack-{case_number}.pdf"


def load_case(session: Session, number: str) -> Case | None:
    """A case by its number, or by its database id when given digits (the CLI and exports accept both)."""
    case = lookups.load_case(session, number=number)
    if case is None and number.isdigit():
        case = lookups.load_case(session, case_id=int(number))
    return case


def _section_of(kind: EvidenceKind, source: EvidenceSource) -> str:
    if kind == EvidenceKind.PROOF_OF_DELIVERY:
        return "delivery"
    if kind in (EvidenceKind.PACKING, EvidenceKind.VIDEO):
        return "packing"
    if source == EvidenceSource.WAREHOUSE:
        return "inspection"
    if source == EvidenceSource.BUYER:
        return "buyer"
    return "other"


def collect_exhibits(session: Session, store: AttachmentStore, case: Case) -> list[Exhibit]:
    """Every file on the case, evidence first, then files sent with messages; each checked against its "
      "hash."""
    shas = {e.sha256 for e in case.evidence} | {
        m.attachment_sha256 for m in case.messages if m.attachment_sha256
    }
    stored = {a.sha256: a for a in session.scalars(select(Attachment).where(Attachment.sha256.in_(shas)))}
    exhibits: list[Exhibit] = []

    def add(
        section: str, kind: str, source: str, filename: str, caption: str, sha: str, at: datetime
    ) -> None:
        row = stored.get(sha)
        exhibits.append(
            Exhibit(
                f"E{len(exhibits) + 1}",
                section,
                kind,
                source,
                filename,
                caption,
                sha,
                row.size if row else None,
                row.content_type if row else "unknown",
                at,
                store.verify(sha),
            )
        )

    for item in case.evidence:
        add(
            _section_of(item.kind, item.source),
            item.kind.value,
            item.source.value,
            item.filename,
            item.caption or "",
            item.sha256,
            item.created_at,
        )
    for message in case.messages:
        if message.attachment_sha256:
            add(
                "messages",
                "message_attachment",
                message.direction.value,
                message.attachment_name or "attachment",
                "",
                message.attachment_sha256,
                message.created_at,
            )
    return exhibits


def case_audit_trail(session: Session, case: Case) -> list[AuditEntry]:
    """Audit entries about the case itself or the returns, refunds and messages that belong to it."""
    related = [
        ("case", [str(case.id), case.number]),
        ("return", [str(r.id) for r in case.returns]),
        ("refund", [str(r.id) for r in case.refunds]),
        ("message", [str(m.id) for m in case.messages]),
    ]
    conditions = [
        (AuditEntry.entity_type == kind) & AuditEntry.entity_id.in_(ids) for kind, ids in related if ids
    ]
    # Fresh from the database, with each entry's place in the signed tree (sequenced a moment ago, maybe).
    return list(session.scalars(
        select(AuditEntry).where(or_(*conditions)).order_by(AuditEntry.id)
        .options(selectinload(AuditEntry.leaf)).execution_options(populate_existing=True)
    ))


def _outcome(case: Case) -> dict[str, Any]:
    """The cover's summary: where the case ended, what was refunded (not failed), how disputes went."""
    refunded: dict[str, Decimal] = {}
    for refund in case.refunds:
        if refund.status != RefundStatus.FAILED:
            refunded[refund.currency] = refunded.get(refund.currency, Decimal(0)) + refund.amount
    return {
        "status": case.status,
        "resolved_at": case.resolved_at,
        "refunded": [format_money(amount, currency) for currency, amount in sorted(refunded.items())],
        "disputes": [
            label(d.status) + (f" ({d.outcome_note})" if d.outcome_note else "") for d in case.disputes
        ],
    }


def build_manifest(case: Case, exhibits: list[Exhibit], generated_at: datetime, by: str) -> dict[str, Any]:
    return {
        "generator": GENERATOR,
        "case": case.number,
        "generated_at": generated_at.isoformat(),
        "generated_by": by,
        "hash_algorithm": "SHA-256",
        "exhibits": [e.to_json() for e in exhibits],
    }


def pack_context(
    session: Session, store: AttachmentStore, case: Case, generated_at: datetime, by: str
) -> dict[str, Any]:
    exhibits = collect_exhibits(session, store, case)
    version_ids = {d.policy_version_id for d in case.decisions if d.policy_version_id}
    versions = {
        v.id: v
        for v in session.scalars(
            select(PolicyVersion)
            .where(PolicyVersion.id.in_(version_ids))
            .options(selectinload(PolicyVersion.policy))
        )
    }
    user_ids = {m.author_id for m in case.messages if m.author_id}
    authors = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
    manifest = build_manifest(case, exhibits, generated_at, by)
    return {
        "case": case,
        "order": case.order,
        "exhibits": exhibits,
        "versions": versions,
        "authors": authors,
        "by_section": {
            name: [e for e in exhibits if e.section == name]
            for name in ("delivery", "packing", "buyer", "inspection", "other", "messages")
        },
        "by_sha": {e.sha256: e for e in exhibits},
        "audit_trail": case_audit_trail(session, case),
        "audit_checkpoint_at": None,
        "outcome": _outcome(case),
        "generated_at": generated_at,
        "generated_by": by,
        "manifest": manifest,
        "utc": utc_text,
        "delivered_events": [
            t
            for s in case.order.shipments
            if s.kind.value == "outbound"
            for t in s.events
            if t.status.value == "delivered"
        ],
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True).encode("utf-8")


def render_evidence_pack(
    session: Session,
    store: AttachmentStore,
    case: Case,
    actor: User | None = None,
    actor_label: str | None = None,
    audit_details: dict[str, Any] | None = None,
) -> EvidencePack:
    """Render the pack and write its SHA-256 to the audit log (flushed; the caller commits).

    Before rendering, the manifest is sealed into the audit log (an `evidence_pack.manifest` entry) and
    the log is sequenced, so the pack carries every entry of the case with its inclusion proof against a
    signed checkpoint. That commits the session first: the sealing entry stays even if rendering fails.

    Needs an app context. Raises RenderError (or RenderLimitError) when the PDF cannot be produced.
    """
    by = actor.email if actor else (actor_label or "system")
    generated_at = utcnow().replace(microsecond=0)
    context = pack_context(session, store, case, generated_at, by)
    manifest = context["manifest"]
    context["audit_trail"], checkpoint, proof = _seal_and_prove(session, case, manifest, actor, actor_label)
    context["audit_checkpoint_at"] = checkpoint.timestamp
    html = render_template("documents/pdf/evidence.html", **context)
    pdf = render_pdf(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        html,
        allowed=[e.sha256 for e in context["exhibits"] if e.embeddable],
        **render.PACK_PDF,
        dpi=PHOTO_DPI,
        attachments=[
            {
                "name": MANIFEST_NAME,
                "content": manifest_bytes(manifest).decode("utf-8"),
                "description": f"Exhibit manifest of case {case.number} (SHA-256 of every exhibit)",
                "relationship": "Data",
            },
            {
                "name": PROOF_NAME,
                "content": proof.decode("utf-8"),
                "description": f"Audit entries of case {case.number} with inclusion proofs against a signed "
                               "checkpoint of the portal's audit log",
                "relationship": "Supplement",
            },
        ],
    )
    digest = hashlib.sha256(pdf).hexdigest()
    audit.record(
        session,
        "evidence_pack.generated",
        "case",
        case.id,
        {
            "number": case.number,
            "sha256": digest,
            "bytes": len(pdf),
            "exhibits": len(context["exhibits"]),
            "manifest_sha256": hashlib.sha256(manifest_bytes(manifest)).hexdigest(),
            "generated_at": generated_at.isoformat(),
            **(audit_details or {}),
        },
        actor=actor,
        actor_label=actor_label,
    )
    return EvidencePack(case.number, pdf, digest, manifest)


def _seal_and_prove(
    session: Session, case: Case, manifest: dict[str, Any], actor: User | None, actor_label: str | None
) -> tuple[list[AuditEntry], Checkpoint, bytes]:
    """Record the manifest in the audit log, sequence the case's entries and build their proofs."""
    audit.record(
        session, SEAL_ACTION, "case", case.id,
        seal_details(case.number, manifest_bytes(manifest), len(manifest["exhibits"])),
        actor=actor, actor_label=actor_label,
    )
    session.commit()
    trail = case_audit_trail(session, case)
    factory = sessionmaker(bind=session.get_bind(), expire_on_commit=False)
    checkpoint = audit_tree.sequence_through(factory, signer(), [e.id for e in trail])
    trail = case_audit_trail(session, case)
    return trail, checkpoint, build_proof(session, case.number, trail, checkpoint)


def utc_text(value: datetime | None) -> str:
    """A time as auditors read it in a pack: UTC, to the second, with the zone named."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

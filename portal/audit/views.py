"""The audit trail for auditors: browse, filter and prove the chain is unbroken."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.access import allow
from portal.db import db_session
from portal.domain.audit import verify_chain
from portal.domain.enums import Role
from portal.domain.models import AuditEntry
from portal.pagination import newest_first
from portal.rendering import next_page_url, render, wants_fragment

bp = Blueprint("audit", __name__, url_prefix="/audit")

AUDIT_READERS = (Role.AUDITOR, Role.ADMIN, Role.OPS_MANAGER)


@bp.get("")
@allow(AUDIT_READERS)
def log() -> ResponseReturnValue:
    action = request.args.get("action", "").strip()[:64]
    entity = request.args.get("entity", "").strip()[:64]
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if entity:
        entity_type, _, entity_id = entity.partition(":")
        query = query.where(AuditEntry.entity_type == entity_type)
        if entity_id:
            query = query.where(AuditEntry.entity_id == entity_id)
    page = newest_first(db_session(), query, AuditEntry.occurred_at, AuditEntry.id, request.args.get("after"),
                        current_app.config["PAGE_SIZE"])
    return render("audit/log.html", "audit/partials/_rows.html", page=page, action=action, entity=entity,
                  more_url=next_page_url(page.next_cursor),
                  appending=bool(request.args.get("after")) and wants_fragment())


@bp.post("/verify")
@allow(AUDIT_READERS)
def verify() -> ResponseReturnValue:
    report = verify_chain(db_session())
    return render("audit/verify.html", "audit/partials/_verify.html", report=report)

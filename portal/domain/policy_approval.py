"""Publishing with a second ops manager's approval: one asks, another approves or rejects, all audited.

A policy (one per market, plus the shared default) may require it. The requester can withdraw but never
approve or reject their own request; approving publishes exactly the draft that was requested, so a
draft changed after the request has to be requested again.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.enums import PublishRequestStatus, Role
from portal.domain.models import Policy, PolicyVersion, PublishRequest, User
from portal.domain.policies import (
    PolicyChangeError,
    clean_comment,
    draft_of,
    edit_token,
    publish_reviewed,
    publishable_draft,
)
from portal.domain.types import utcnow

PENDING = PublishRequestStatus.PENDING


def pending_request(session: Session, policy_id: int) -> PublishRequest | None:
    return session.scalar(select(PublishRequest).where(
        PublishRequest.policy_id == policy_id, PublishRequest.status == PENDING)
        .order_by(PublishRequest.id.desc()).limit(1))


def is_current(session: Session, request: PublishRequest) -> bool:
    """The draft is still the one that was requested (nobody saved it since)."""
    return edit_token(draft_of(session, request.policy_id)) == request.token


def set_requirement(session: Session, policy: Policy, required: bool, user: User) -> None:
    """Turn the approval requirement on (ops managers, admins) or off (admins only: it is the control)."""
    if policy.requires_approval == required:
        return
    if user.role not in (Role.OPS_MANAGER, Role.ADMIN) or (not required and user.role != Role.ADMIN):
        raise PolicyChangeError("approval_setting_forbidden")
    policy.requires_approval = required
    waiting = pending_request(session, policy.id)
    if waiting is not None and not required:
        # Nothing is left to approve: the requester publishes in one step like everyone else now.
        _close(session, waiting, PublishRequestStatus.WITHDRAWN, user, "approval no longer required")
    audit.record(session, "policy.approval_setting", "policy", policy.id,
                 {"requires_approval": required, "withdrew_request": waiting.id if waiting and not required
                  else None}, actor=user)


def request_publication(session: Session, policy: Policy, comment: str, token: str,
                        user: User) -> PublishRequest:
    """Ask another ops manager to publish the reviewed draft; a request for an older draft is replaced."""
    if not policy.requires_approval:
        raise PolicyChangeError("approval_not_required")
    comment = clean_comment(comment)
    draft = publishable_draft(session, policy, token)
    waiting = pending_request(session, policy.id)
    if waiting is not None:
        if waiting.token == token:
            raise PolicyChangeError("request_pending")
        _close(session, waiting, PublishRequestStatus.WITHDRAWN, user, "superseded by a newer request")
    request = PublishRequest(policy_id=policy.id, version_id=draft.id, token=token, comment=comment,
                             status=PENDING, requested_by_id=user.id)
    session.add(request)
    session.flush()
    audit.record(session, "policy.publication_requested", "policy_version", draft.id,
                 {"policy_id": policy.id, "number": draft.number, "request_id": request.id,
                  "comment": comment}, actor=user)
    return request


def _open_request(session: Session, policy: Policy, request_id: int) -> PublishRequest:
    request = session.get(PublishRequest, request_id)
    if request is None or request.policy_id != policy.id:
        raise PolicyChangeError("no_such_request")
    if request.status != PENDING:
        raise PolicyChangeError("request_closed")
    return request


def _check_reviewer(request: PublishRequest, user: User) -> None:
    if user.role != Role.OPS_MANAGER:
        raise PolicyChangeError("reviewer_not_manager")
    if user.id == request.requested_by_id:
        raise PolicyChangeError("own_request")


def _close(session: Session, request: PublishRequest, status: PublishRequestStatus, user: User,
           comment: str) -> None:
    request.status = status
    request.decided_by_id, request.decided_at = user.id, utcnow()
    request.decision_comment = comment or None
    session.flush()


def approve(session: Session, policy: Policy, request_id: int, comment: str, user: User) -> PolicyVersion:
    """Another ops manager approves: the requested draft is published with the requester's comment."""
    request = _open_request(session, policy, request_id)
    _check_reviewer(request, user)
    comment = (comment or "").strip()
    if comment:
        comment = clean_comment(comment)
    if not is_current(session, request):
        raise PolicyChangeError("request_stale")
    version = publish_reviewed(session, policy, request.comment, request.token, user)
    _close(session, request, PublishRequestStatus.APPROVED, user, comment)
    audit.record(session, "policy.publication_approved", "policy_version", version.id,
                 {"policy_id": policy.id, "number": version.number, "request_id": request.id,
                  "requested_by": request.requested_by_id, "comment": comment}, actor=user)
    return version


def reject(session: Session, policy: Policy, request_id: int, comment: str, user: User) -> PublishRequest:
    """Another ops manager rejects, saying why; the draft stays as it is."""
    request = _open_request(session, policy, request_id)
    _check_reviewer(request, user)
    comment = clean_comment(comment)
    _close(session, request, PublishRequestStatus.REJECTED, user, comment)
    audit.record(session, "policy.publication_rejected", "policy_version", request.version_id,
                 {"policy_id": policy.id, "request_id": request.id, "requested_by": request.requested_by_id,
                  "comment": comment}, actor=user)
    return request


def withdraw(session: Session, policy: Policy, request_id: int, user: User) -> PublishRequest:
    """The requester takes the request back."""
    request = _open_request(session, policy, request_id)
    if user.id != request.requested_by_id:
        raise PolicyChangeError("not_your_request")
    _close(session, request, PublishRequestStatus.WITHDRAWN, user, "")
    audit.record(session, "policy.publication_withdrawn", "policy_version", request.version_id,
                 {"policy_id": policy.id, "request_id": request.id}, actor=user)
    return request


def last_decision(session: Session, policy_id: int) -> PublishRequest | None:
    """The most recent request that was decided, so the requester sees a rejection and why."""
    return session.scalar(select(PublishRequest).where(
        PublishRequest.policy_id == policy_id,
        PublishRequest.status.in_((PublishRequestStatus.APPROVED, PublishRequestStatus.REJECTED)))
        .order_by(PublishRequest.id.desc()).limit(1))

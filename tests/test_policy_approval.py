"""Publishing with a second ops manager's approval: requested by one, approved or rejected by another,
never by the requester, all audited; without the setting, publishing works in one step as before."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token, sign_in
from support.factories import shop_with_market

from portal.domain import policies as service
from portal.domain import policy_approval as approval
from portal.domain.enums import PolicyStatus, PublishRequestStatus, Role
from portal.domain.models import AuditEntry, Policy, PolicyVersion, PublishRequest, User
from portal.domain.types import utcnow

V1 = "if value < 10 then refund_without_return\nelse approve_return\n"
V2 = "if value < 15 then refund_without_return\nelse approve_return\n"


@pytest.fixture
def policy(db: Session, users: dict[Role, User]) -> Policy:
    _shop, market = shop_with_market(db)
    found = Policy(name="US policy", market_id=market.id, requires_approval=True)
    db.add(found)
    db.flush()
    db.add(PolicyVersion(policy_id=found.id, number=1, status=PolicyStatus.PUBLISHED, text=V1,
                         published_at=utcnow(), comment="First"))
    db.commit()
    return found


@pytest.fixture
def second_manager(db: Session, password_hash: str) -> User:
    person = User(email="ops2@example.test", name="Second Manager", role=Role.OPS_MANAGER,
                  password_hash=password_hash)
    db.add(person)
    db.commit()
    return person


def _statuses(db: Session, policy: Policy) -> dict[int, str]:
    db.expire_all()
    return {v.number: v.status.value
            for v in db.scalars(select(PolicyVersion).where(PolicyVersion.policy_id == policy.id))}


def _actions(db: Session) -> list[str]:
    actions = db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
    return [action for action in actions if action.startswith("policy.")]


# ---- the service ---------------------------------------------------------------------------------


def test_request_then_another_manager_approves(
    db: Session, policy: Policy, users: dict[Role, User], second_manager: User
) -> None:
    ops = users[Role.OPS_MANAGER]
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    with pytest.raises(service.PolicyChangeError, match="approval_required"):
        service.publish(db, policy, "Cheaper", service.edit_token(draft), ops)
    request = approval.request_publication(db, policy, "Threshold to $15", service.edit_token(draft), ops)
    db.commit()
    assert _statuses(db, policy) == {1: "published", 2: "draft"}  # nothing published yet
    with pytest.raises(service.PolicyChangeError, match="request_pending"):
        approval.request_publication(db, policy, "Again", service.edit_token(draft), ops)
    with pytest.raises(service.PolicyChangeError, match="own_request"):
        approval.approve(db, policy, request.id, "", ops)
    with pytest.raises(service.PolicyChangeError, match="own_request"):
        approval.reject(db, policy, request.id, "No", ops)
    with pytest.raises(service.PolicyChangeError, match="reviewer_not_manager"):
        approval.approve(db, policy, request.id, "", users[Role.ADMIN])
    version = approval.approve(db, policy, request.id, "Looks right", second_manager)
    db.commit()
    assert _statuses(db, policy) == {1: "archived", 2: "published"}
    assert (version.comment, version.published_by_id) == ("Threshold to $15", second_manager.id)
    db.refresh(request)
    assert request.status == PublishRequestStatus.APPROVED and request.decided_by_id == second_manager.id
    assert request.decision_comment == "Looks right"
    assert _actions(db)[-3:] == ["policy.publication_requested", "policy.published",
                                 "policy.publication_approved"]
    with pytest.raises(service.PolicyChangeError, match="request_closed"):
        approval.approve(db, policy, request.id, "", second_manager)


def test_a_draft_changed_after_the_request_cannot_be_approved(
    db: Session, policy: Policy, users: dict[Role, User], second_manager: User
) -> None:
    ops = users[Role.OPS_MANAGER]
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    request = approval.request_publication(db, policy, "Threshold", service.edit_token(draft), ops)
    service.save_draft(db, policy, V2 + "\n", service.edit_token(draft), second_manager)
    db.commit()
    with pytest.raises(service.PolicyChangeError, match="request_stale"):
        approval.approve(db, policy, request.id, "", second_manager)
    assert _statuses(db, policy) == {1: "published", 2: "draft"}
    # A new request for the changed draft replaces the old one.
    newer = approval.request_publication(db, policy, "Threshold, tidied",
                                         service.edit_token(service.draft_of(db, policy.id)), ops)
    db.refresh(request)
    assert request.status == PublishRequestStatus.WITHDRAWN and newer.status == PublishRequestStatus.PENDING


def test_rejection_needs_a_comment_and_keeps_the_draft(
    db: Session, policy: Policy, users: dict[Role, User], second_manager: User
) -> None:
    ops = users[Role.OPS_MANAGER]
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    request = approval.request_publication(db, policy, "Threshold", service.edit_token(draft), ops)
    with pytest.raises(service.PolicyChangeError, match="comment_required"):
        approval.reject(db, policy, request.id, "  ", second_manager)
    approval.reject(db, policy, request.id, "Too generous for jewelry", second_manager)
    db.commit()
    assert _statuses(db, policy) == {1: "published", 2: "draft"}
    assert approval.pending_request(db, policy.id) is None
    assert approval.last_decision(db, policy.id).decision_comment == "Too generous for jewelry"
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "policy.publication_rejected"))
    assert entry is not None and entry.actor_id == second_manager.id


def test_rollback_is_refused_while_approval_is_required(
    db: Session, policy: Policy, users: dict[Role, User]
) -> None:
    with pytest.raises(service.PolicyChangeError, match="approval_required_rollback"):
        service.rollback(db, policy, 1, "Back", users[Role.OPS_MANAGER])


def test_only_an_admin_stops_requiring_approval(db: Session, policy: Policy, users: dict[Role, User]) -> None:
    ops = users[Role.OPS_MANAGER]
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    request = approval.request_publication(db, policy, "Threshold", service.edit_token(draft), ops)
    with pytest.raises(service.PolicyChangeError, match="approval_setting_forbidden"):
        approval.set_requirement(db, policy, False, ops)
    with pytest.raises(service.PolicyChangeError, match="approval_setting_forbidden"):
        approval.set_requirement(db, policy, False, users[Role.CS_AGENT])
    approval.set_requirement(db, policy, False, users[Role.ADMIN])
    assert request.status == PublishRequestStatus.WITHDRAWN
    assert approval.pending_request(db, policy.id) is None
    service.publish(db, policy, "Threshold", service.edit_token(draft), ops)  # one step again
    approval.set_requirement(db, policy, True, users[Role.OPS_MANAGER])
    db.commit()
    assert policy.requires_approval
    assert _actions(db).count("policy.approval_setting") == 2


# ---- the pages -----------------------------------------------------------------------------------


def _request_via_pages(client: FlaskClient, policy: Policy, comment: str = "Threshold to $15") -> None:
    url = f"/policies/{policy.id}/edit"
    assert client.post(url, data={"csrf_token": csrf_token(client, url), "token": "new", "text": V2,
                                  "action": "review"}).status_code == 302
    publish_url = f"/policies/{policy.id}/publish"
    html = client.get(publish_url).get_data(as_text=True)
    assert "Request approval to publish v2" in html
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    response = client.post(publish_url, data={"csrf_token": csrf_token(client, publish_url), "token": token,
                                              "comment": comment})
    assert response.status_code == 302


def test_two_managers_publish_through_the_pages(
    app: Flask, db: Session, policy: Policy, login: Callable[[Role], FlaskClient], second_manager: User
) -> None:
    requester = login(Role.OPS_MANAGER)
    _request_via_pages(requester, policy)
    publish_url = f"/policies/{policy.id}/publish"
    html = requester.get(publish_url).get_data(as_text=True)
    assert "Waiting for another ops manager" in html and 'id="approve-form"' not in html
    request = db.scalar(select(PublishRequest))
    # The requester posting an approval by hand is refused and nothing is published.
    refused = requester.post(f"/policies/{policy.id}/requests/{request.id}/approve",
                             data={"csrf_token": csrf_token(requester, publish_url)})
    assert refused.status_code == 409
    assert "another ops manager has to approve" in refused.get_data(as_text=True)
    assert _statuses(db, policy) == {1: "published", 2: "draft"}
    listing = requester.get("/policies").get_data(as_text=True)
    assert "waiting for approval" in listing

    reviewer = app.test_client()
    assert sign_in(reviewer, second_manager.email).status_code == 302
    html = reviewer.get(publish_url).get_data(as_text=True)
    assert 'id="approve-form"' in html and "Threshold to $15" in html
    response = reviewer.post(f"/policies/{policy.id}/requests/{request.id}/approve",
                             data={"csrf_token": csrf_token(reviewer, publish_url), "comment": "Fine"})
    assert response.status_code == 302
    assert "Approved and published v2" in reviewer.get(response.location).get_data(as_text=True)
    assert _statuses(db, policy) == {1: "archived", 2: "published"}


def test_rejecting_through_the_pages_needs_a_comment_the_requester_sees(
    app: Flask, db: Session, policy: Policy, login: Callable[[Role], FlaskClient], second_manager: User
) -> None:
    requester = login(Role.OPS_MANAGER)
    _request_via_pages(requester, policy)
    request = db.scalar(select(PublishRequest))
    reviewer = app.test_client()
    sign_in(reviewer, second_manager.email)
    publish_url = f"/policies/{policy.id}/publish"
    reject_url = f"/policies/{policy.id}/requests/{request.id}/reject"
    empty = reviewer.post(reject_url, data={"csrf_token": csrf_token(reviewer, publish_url), "comment": ""})
    assert empty.status_code == 422 and "Say why you reject the request." in empty.get_data(as_text=True)
    assert reviewer.post(reject_url, data={"csrf_token": csrf_token(reviewer, publish_url),
                                           "comment": "Not <b>before</b> the sale"}).status_code == 302
    html = requester.get(publish_url).get_data(as_text=True)
    assert 'id="last-rejection"' in html and "Not &lt;b&gt;before&lt;/b&gt; the sale" in html
    assert _statuses(db, policy) == {1: "published", 2: "draft"}


@pytest.mark.parametrize("role", [Role.CS_AGENT, Role.AUDITOR, Role.ADMIN])
def test_other_roles_cannot_request_approve_or_reject(
    db: Session, policy: Policy, login: Callable[[Role], FlaskClient], users: dict[Role, User], role: Role
) -> None:
    ops = users[Role.OPS_MANAGER]
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    request = approval.request_publication(db, policy, "Threshold", service.edit_token(draft), ops)
    db.commit()
    client = login(role)
    token = csrf_token(client, "/settings")
    for decision in ("approve", "reject", "withdraw"):
        response = client.post(f"/policies/{policy.id}/requests/{request.id}/{decision}",
                               data={"csrf_token": token, "comment": "x"})
        assert response.status_code == 403, decision
    assert client.post(f"/policies/{policy.id}/publish", data={"csrf_token": token, "comment": "x"}
                       ).status_code == 403
    assert _statuses(db, policy) == {1: "published", 2: "draft"}


def test_a_request_without_csrf_is_refused(
    db: Session, policy: Policy, users: dict[Role, User], login: Callable[[Role], FlaskClient],
    second_manager: User, app: Flask
) -> None:
    ops = users[Role.OPS_MANAGER]
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    request = approval.request_publication(db, policy, "Threshold", service.edit_token(draft), ops)
    db.commit()
    reviewer = app.test_client()
    sign_in(reviewer, second_manager.email)
    response = reviewer.post(f"/policies/{policy.id}/requests/{request.id}/approve", data={"comment": "x"})
    assert response.status_code in (400, 422)
    assert _statuses(db, policy) == {1: "published", 2: "draft"}


def test_the_setting_on_the_policy_page(
    db: Session, policy: Policy, login: Callable[[Role], FlaskClient]
) -> None:
    manager, admin = login(Role.OPS_MANAGER), login(Role.ADMIN)
    show = f"/policies/{policy.id}"
    html = manager.get(show).get_data(as_text=True)
    assert "Publishing needs a second ops manager's approval" in html and "Stop requiring" not in html
    assert admin.post(f"/policies/{policy.id}/approval", data={
        "csrf_token": csrf_token(admin, show), "required": "0"}).status_code == 302
    db.expire_all()
    assert not db.get(Policy, policy.id).requires_approval
    # Without the setting, publishing is one step again.
    manager_form = manager.get(show).get_data(as_text=True)
    assert "Require a second ops manager" in manager_form
    assert manager.post(f"/policies/{policy.id}/approval", data={
        "csrf_token": csrf_token(manager, show), "required": "1"}).status_code == 302
    db.expire_all()
    assert db.get(Policy, policy.id).requires_approval

"""Publishing, rolling back, history and diffs: the services directly, then the confirmation pages."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

from portal.domain import policies as service
from portal.domain.enums import PolicyStatus, Role
from portal.domain.models import AuditEntry, Decision, Market, Policy, PolicyVersion, User
from portal.domain.policy_engine import decide, record_decision
from portal.domain.types import utcnow

V1 = "if value < 10 then refund_without_return\nelse approve_return\n"
V2 = "if value < 15 then refund_without_return\nelse approve_return\n"
FAILING_EXAMPLE = V2 + 'example "dear": value = 40 -> refund\n'


@pytest.fixture
def setup(db: Session, users: dict[Role, User]) -> tuple[Policy, Market, User]:
    _shop, market = shop_with_market(db)
    policy = Policy(name="US policy", market_id=market.id)
    db.add(policy)
    db.flush()
    db.add(
        PolicyVersion(
            policy_id=policy.id,
            number=1,
            status=PolicyStatus.PUBLISHED,
            text=V1,
            published_at=utcnow(),
            comment="First",
        )
    )
    db.commit()
    return policy, market, users[Role.OPS_MANAGER]


def _statuses(db: Session, policy: Policy) -> dict[int, str]:
    db.expire_all()
    return {
        v.number: v.status.value
        for v in db.scalars(select(PolicyVersion).where(PolicyVersion.policy_id == policy.id))
    }


def test_publish_archives_the_previous_version_and_is_audited(db: Session, setup) -> None:
    policy, _market, ops = setup
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    published = service.publish(db, policy, "Cheap threshold to $15", service.edit_token(draft), ops)
    db.commit()
    assert _statuses(db, policy) == {1: "archived", 2: "published"}
    assert (published.comment, published.published_by_id) == ("Cheap threshold to $15", ops.id)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "policy.published"))
    assert entry.details == {
        "policy_id": policy.id,
        "number": 2,
        "previous": 1,
        "comment": "Cheap threshold to $15",
    }
    assert entry.actor_id == ops.id and entry.pending is not None  # queued for the signed tree


@pytest.mark.parametrize(
    ("text", "comment", "code"),
    [
        ("if valeu < 15 then refund", "typo", "invalid"),
        (FAILING_EXAMPLE, "example fails", "invalid"),
        (V2, "   ", "comment_required"),
    ],
)
def test_publish_refuses_and_changes_nothing(db: Session, setup, text: str, comment: str, code: str) -> None:
    policy, _market, ops = setup
    draft = service.save_draft(db, policy, text, service.NEW_DRAFT, ops)
    db.commit()
    with pytest.raises(service.PolicyChangeError) as refused:
        service.publish(db, policy, comment, service.edit_token(draft), ops)
    db.rollback()
    assert refused.value.code == code
    assert _statuses(db, policy) == {1: "published", 2: "draft"}
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "policy.published")) is None


def test_publish_refuses_a_draft_changed_since_it_was_reviewed(db: Session, setup) -> None:
    policy, _market, ops = setup
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    reviewed = service.edit_token(draft)
    service.save_draft(db, policy, V2 + "# more\n", reviewed, ops)
    with pytest.raises(service.PolicyChangeError, match="conflict"):
        service.publish(db, policy, "ok", reviewed, ops)
    with pytest.raises(service.PolicyChangeError, match="conflict"):
        service.save_draft(db, policy, "x", service.NEW_DRAFT, ops)


def test_rollback_publishes_a_copy_and_keeps_history_linear(db: Session, setup) -> None:
    policy, _market, ops = setup
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    service.publish(db, policy, "v2", service.edit_token(draft), ops)
    open_draft = service.save_draft(db, policy, V2 + "# next idea\n", service.NEW_DRAFT, ops)
    assert open_draft.number == 3
    with pytest.raises(service.PolicyChangeError, match="already_published"):
        service.rollback(db, policy, 2, "no", ops)
    with pytest.raises(service.PolicyChangeError, match="no_such_version"):
        service.rollback(db, policy, 3, "a draft", ops)
    copy = service.rollback(db, policy, 1, "Refunds went up too much", ops)
    db.commit()
    assert (copy.number, copy.text, copy.status) == (3, V1, PolicyStatus.PUBLISHED)
    assert _statuses(db, policy) == {1: "archived", 2: "archived", 3: "published", 4: "draft"}
    assert db.get(PolicyVersion, open_draft.id).number == 4
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "policy.rolled_back"))
    assert entry.details["copied_from"] == 1 and entry.details["previous"] == 2


def test_changing_the_policy_never_rewrites_decisions(db: Session, setup) -> None:
    policy, market, ops = setup
    old_case = make_case(db, market, value="12.00")
    decision, v1 = decide(db, old_case, "case_opened")
    record_decision(db, old_case, "case_opened", decision, v1)
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    v2 = service.publish(db, policy, "to $15", service.edit_token(draft), ops)
    db.commit()
    new_case = make_case(db, market, value="12.00")
    decision, version = decide(db, new_case, "case_opened")
    record_decision(db, new_case, "case_opened", decision, version)
    db.commit()
    rows = {row.case_id: row for row in db.scalars(select(Decision))}
    assert rows[old_case.id].policy_version_id == v1.id
    assert rows[old_case.id].actions == [{"name": "approve_return", "args": []}]
    assert rows[new_case.id].policy_version_id == v2.id
    assert rows[new_case.id].actions == [{"name": "refund_without_return", "args": []}]


def test_history_pages_and_diff(db: Session, setup) -> None:
    policy, _market, ops = setup
    for i in range(3):
        draft = service.save_draft(db, policy, V1 + f"# note {i}\n", service.NEW_DRAFT, ops)
        service.publish(db, policy, f"note {i}", service.edit_token(draft), ops)
    page, more = service.history(db, policy.id, 1, size=3)
    assert [v.number for v in page] == [4, 3, 2] and more
    page, more = service.history(db, policy.id, 2, size=3)
    assert [v.number for v in page] == [1] and not more
    lines = service.diff(V1, V2)
    assert [(line.kind, line.text) for line in lines if line.kind != "same"] == [
        ("removed", "if value < 10 then refund_without_return"),
        ("added", "if value < 15 then refund_without_return"),
    ]


def test_discard_draft(db: Session, setup) -> None:
    policy, _market, ops = setup
    service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    assert service.discard_draft(db, policy, ops) == 2
    assert service.draft_of(db, policy.id) is None
    with pytest.raises(service.PolicyChangeError, match="no_draft"):
        service.discard_draft(db, policy, ops)


def _ops_with_draft(login: Callable[[Role], FlaskClient], policy: Policy, text: str) -> FlaskClient:
    client = login(Role.OPS_MANAGER)
    url = f"/policies/{policy.id}/edit"
    response = client.post(
        url, data={"csrf_token": csrf_token(client, url), "token": "new", "text": text, "action": "review"}
    )
    assert response.status_code == 302 and response.location.endswith(f"/policies/{policy.id}/publish")
    return client


def test_publish_page_shows_the_diff_and_needs_a_comment(
    login: Callable[[Role], FlaskClient], setup, db: Session
) -> None:
    policy, _market, _ops = setup
    client = _ops_with_draft(login, policy, V2)
    url = f"/policies/{policy.id}/publish"
    html = client.get(url).get_data(as_text=True)
    assert 'class="diff-removed"' in html and 'class="diff-added"' in html and "value &lt; 15" in html
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', html).group(1)
    html = client.post(
        url, data={"csrf_token": csrf_token(client, url), "token": token, "comment": ""}
    ).get_data(as_text=True)
    assert "Say why you are making this change." in html
    assert _statuses(db, policy) == {1: "published", 2: "draft"}
    response = client.post(
        url, data={"csrf_token": csrf_token(client, url), "token": token, "comment": "Cheap threshold to $15"}
    )
    assert response.status_code == 302
    assert _statuses(db, policy) == {1: "archived", 2: "published"}
    assert "Published v2" in client.get(response.location).get_data(as_text=True)


def test_publish_page_refuses_a_policy_with_failing_examples(
    login: Callable[[Role], FlaskClient], setup, db: Session
) -> None:
    policy, _market, _ops = setup
    client = _ops_with_draft(login, policy, FAILING_EXAMPLE)
    url = f"/policies/{policy.id}/publish"
    html = client.get(url).get_data(as_text=True)
    assert "This draft cannot be published" in html and 'name="comment"' not in html
    token = service.edit_token(service.draft_of(db, policy.id))
    html = client.post(
        url, data={"csrf_token": csrf_token(client, url), "token": token, "comment": "try"}
    ).get_data(as_text=True)
    assert "can never be published" in html
    assert _statuses(db, policy) == {1: "published", 2: "draft"}


def test_rollback_page_confirms_then_publishes_a_copy(
    login: Callable[[Role], FlaskClient], setup, db: Session
) -> None:
    policy, _market, ops = setup
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    service.publish(db, policy, "v2", service.edit_token(draft), ops)
    db.commit()
    client = login(Role.OPS_MANAGER)
    version_page = client.get(f"/policies/{policy.id}/versions/1").get_data(as_text=True)
    assert "Roll back to this version" in version_page
    url = f"/policies/{policy.id}/versions/1/rollback"
    html = client.get(url).get_data(as_text=True)
    assert "Roll back to v1" in html and 'class="diff-added"' in html
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "comment": "Back to $10"})
    assert response.status_code == 302
    assert _statuses(db, policy) == {1: "archived", 2: "archived", 3: "published"}
    shown = client.get(f"/policies/{policy.id}").get_data(as_text=True)
    assert "Back to $10" in shown and "Rolled back: v3 is a copy of v1" in shown


def test_diff_page_between_any_two_versions(login: Callable[[Role], FlaskClient], setup, db: Session) -> None:
    policy, _market, ops = setup
    draft = service.save_draft(db, policy, V2, service.NEW_DRAFT, ops)
    service.publish(db, policy, "v2", service.edit_token(draft), ops)
    db.commit()
    client = login(Role.AUDITOR)
    html = client.get(f"/policies/{policy.id}/diff?a=1&b=2").get_data(as_text=True)
    assert 'class="diff-removed"' in html and "value &lt; 10" in html
    assert "There is no version 9" in client.get(f"/policies/{policy.id}/diff?a=9&b=2").get_data(as_text=True)
    assert "Roll back" not in client.get(f"/policies/{policy.id}/versions/1").get_data(as_text=True)

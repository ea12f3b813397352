"""The policy editor over HTTP: live findings, examples, saving drafts safely, trying cases, reading."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

from portal.domain.enums import PolicyStatus, Role
from portal.domain.models import Market, Policy, PolicyVersion
from portal.domain.types import utcnow
from portal.policies import palette
from rules import vocabulary

PUBLISHED = 'policy "US"\nif value < 10 then refund_without_return\nelse approve_return\n'
TYPO = "if valeu < 15 then refund_without_return\n"
WITH_EXAMPLES = (
    "if value < 15 then refund_without_return\nelse approve_return\n"
    'example "cheap": value = 12 -> refund_without_return\n'
    'example "dear": value = 40 -> refund\n'
)


@pytest.fixture
def policy(db: Session) -> Policy:
    _shop, market = shop_with_market(db)
    policy = Policy(name="US policy", market_id=market.id)
    db.add(policy)
    db.flush()
    db.add(
        PolicyVersion(
            policy_id=policy.id,
            number=1,
            status=PolicyStatus.PUBLISHED,
            text=PUBLISHED,
            published_at=utcnow(),
            comment="First",
        )
    )
    db.commit()
    return policy


def _token(html: str) -> str:
    match = re.search(r'name="token" value="([^"]*)"', html)
    assert match, html[:2000]
    return match.group(1)


def _post(client: FlaskClient, url: str, page_url: str, **data: str) -> tuple[int, str]:
    response = client.post(url, data={"csrf_token": csrf_token(client, page_url), **data})
    return response.status_code, response.get_data(as_text=True)


def test_editor_starts_from_the_published_text(login: Callable[[Role], FlaskClient], policy: Policy) -> None:
    html = login(Role.OPS_MANAGER).get(f"/policies/{policy.id}/edit").get_data(as_text=True)
    assert 'id="policy-source"' in html and "if value &lt; 10 then refund_without_return" in html
    assert 'hx-trigger="input changed delay:400ms"' in html and _token(html) == "new"
    assert html.count("<li>") >= 3  # the line-number gutter
    assert 'id="policy-palette"' in html and "Full refund, the buyer keeps the item." in html


def test_live_check_returns_findings_with_the_suggestion(
    login: Callable[[Role], FlaskClient], policy: Policy
) -> None:
    client = login(Role.OPS_MANAGER)
    response = client.post(
        f"/policies/{policy.id}/check",
        data={"text": TYPO},
        headers={"HX-Request": "true", "X-CSRFToken": csrf_token(client, "/settings")},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="policy-findings"')
    assert "Line 1, column 4" in html and "did you mean `value`?" in html
    assert 'id="policy-gutter" aria-hidden="true" hx-swap-oob="true"' in html
    assert 'class="mark-error"' in html


def test_findings_and_palette_in_chinese(login: Callable[[Role], FlaskClient], policy: Policy) -> None:
    client = login(Role.OPS_MANAGER)
    client.post("/language", data={"locale": "zh", "csrf_token": csrf_token(client, "/settings")})
    response = client.post(
        f"/policies/{policy.id}/check",
        data={"text": TYPO},
        headers={"HX-Request": "true", "X-CSRFToken": csrf_token(client, "/settings")},
    )
    assert "您是不是要写 `value`" in response.get_data(as_text=True)
    html = client.get(f"/policies/{policy.id}/edit").get_data(as_text=True)
    assert "全额退款" in html


def test_examples_run_on_every_check(login: Callable[[Role], FlaskClient], policy: Policy) -> None:
    client = login(Role.OPS_MANAGER)
    html = client.post(
        f"/policies/{policy.id}/check",
        data={"text": WITH_EXAMPLES},
        headers={"HX-Request": "true", "X-CSRFToken": csrf_token(client, "/settings")},
    ).get_data(as_text=True)
    assert "1 of 2 examples pass." in html
    assert re.search(r"example-pass.*cheap", html, re.S) and re.search(r'example-fail">\s*<td>dear', html)


def test_check_without_javascript_keeps_the_unsaved_text(
    login: Callable[[Role], FlaskClient], policy: Policy, db: Session
) -> None:
    client = login(Role.OPS_MANAGER)
    url = f"/policies/{policy.id}/edit"
    status, html = _post(client, url, url, text=TYPO, token="new", action="check")
    assert status == 200 and "if valeu &lt; 15" in html and "Not saved yet" in html
    assert "did you mean `value`?" in html
    assert db.scalar(select(PolicyVersion).where(PolicyVersion.status == PolicyStatus.DRAFT)) is None


def test_save_draft_then_a_stale_save_is_refused(
    login: Callable[[Role], FlaskClient], policy: Policy, db: Session
) -> None:
    first, second = login(Role.OPS_MANAGER), login(Role.OPS_MANAGER)
    url = f"/policies/{policy.id}/edit"
    token_first = _token(first.get(url).get_data(as_text=True))
    token_second = _token(second.get(url).get_data(as_text=True))
    response = first.post(
        url,
        data={
            "csrf_token": csrf_token(first, url),
            "token": token_first,
            "text": "if value < 15 then refund_without_return\n",
            "action": "save",
        },
    )
    assert response.status_code == 302
    assert "Draft v2 saved" in first.get(url).get_data(as_text=True)

    status, html = _post(
        second, url, url, token=token_second, text="if value < 20 then refund\n", action="save"
    )
    assert status == 200 and "Someone else saved this draft" in html
    assert "if value &lt; 20 then refund" in html  # their own text is still in the textarea
    assert 'id="their-text"' in html and "value &lt; 15" in html
    db.expire_all()
    drafts = db.scalars(select(PolicyVersion).where(PolicyVersion.status == PolicyStatus.DRAFT)).all()
    assert [d.text for d in drafts] == ["if value < 15 then refund_without_return\n"]

    # Saving again after seeing their version is a deliberate replace.
    status, _html = _post(
        second, url, url, token=_token(html), text="if value < 20 then refund\n", action="save"
    )
    assert status == 302
    db.expire_all()
    assert db.scalar(select(PolicyVersion.text).where(PolicyVersion.status == PolicyStatus.DRAFT)) == (
        "if value < 20 then refund\n"
    )


def test_try_it_with_described_facts(login: Callable[[Role], FlaskClient], policy: Policy) -> None:
    client = login(Role.OPS_MANAGER)
    response = client.post(
        f"/policies/{policy.id}/try",
        data={
            "text": "if value < 15 then refund_without_return\nelse approve_return",
            "fact.value": "12",
            "fact.item.customized": "false",
            "event": "case_opened",
        },
        headers={"HX-Request": "true", "X-CSRFToken": csrf_token(client, "/settings")},
    )
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="try-result"')
    assert "refund_without_return" in html and "rule on line 1" in html and "value = 12" in html


def test_try_it_with_a_real_case_and_bad_input(
    login: Callable[[Role], FlaskClient], policy: Policy, db: Session
) -> None:
    market = db.get(Market, policy.market_id)
    make_case(db, market, number="AS-TRY1", value="8.00")
    db.commit()
    client = login(Role.OPS_MANAGER)
    url = f"/policies/{policy.id}/edit"
    status, html = _post(client, url, url, text=PUBLISHED, token="new", action="try", case_number="AS-TRY1")
    assert status == 200 and "case AS-TRY1" in html and "value = 8" in html
    _status, html = _post(client, url, url, text=PUBLISHED, token="new", action="try", case_number="AS-NOPE")
    assert "No case has the number AS-NOPE." in html
    _status, html = _post(
        client, url, url, text=PUBLISHED, token="new", action="try", **{"fact.value": "ten"}
    )
    assert "Some facts could not be read" in html and "Enter a number." in html
    _status, html = _post(client, url, url, text=TYPO, token="new", action="try", **{"fact.value": "3"})
    assert "Fix the errors in the policy first" in html


@pytest.mark.parametrize("role", [Role.CS_AGENT, Role.AUDITOR, Role.ADMIN])
def test_readers_see_the_policy_without_editing(
    login: Callable[[Role], FlaskClient], policy: Policy, role: Role
) -> None:
    client = login(role)
    html = client.get(f"/policies/{policy.id}").get_data(as_text=True)
    assert 'id="policy-text"' in html and "refund_without_return" in html
    assert "<textarea" not in html and "/edit" not in html and "Roll back" not in html
    assert client.get(f"/policies/{policy.id}/edit").status_code == 403


def test_ops_manager_is_offered_editing_and_can_start_a_market_policy(
    login: Callable[[Role], FlaskClient], policy: Policy, db: Session
) -> None:
    client = login(Role.OPS_MANAGER)
    assert f"/policies/{policy.id}/edit" in client.get(f"/policies/{policy.id}").get_data(as_text=True)
    _shop, uk = shop_with_market(db, "UK", "GBP")
    db.commit()
    index = client.get("/policies").get_data(as_text=True)
    assert 'id="start-policy"' in index and "UK" in index
    status, _html = _post(client, "/policies", "/policies", market_id=str(uk.id))
    assert status == 302
    created = db.scalar(select(Policy).where(Policy.market_id == uk.id))
    assert created is not None and created.versions[0].status == PolicyStatus.DRAFT


def test_palette_covers_the_whole_vocabulary() -> None:
    assert {e.name for e in palette.fields()} == set(vocabulary.FIELDS) == set(palette.FIELD_HELP)
    assert {e.name for e in palette.actions()} == set(vocabulary.ACTIONS) == set(palette.ACTION_HELP)
    assert {e.name for e in palette.events()} == set(vocabulary.EVENTS) == set(palette.EVENT_HELP)
    # The English help is the vocabulary's own, word for word.
    for name, spec in vocabulary.FIELDS.items():
        assert palette.FIELD_HELP[name]._args[0] == spec.help
    snippets = {e.name: e.snippet for e in palette.actions()}
    assert snippets["partial_refund"] == "partial_refund 20%"
    assert snippets["set_deadline"] == 'set_deadline "NAME" 12 days'

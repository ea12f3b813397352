"""Admins manage users: language and zone, role changes, deactivation (cases back to the queue), password
links."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import PASSWORD, csrf_token, sign_in
from support.factories import make_case, shop_with_market
from support.smtp import smtp_server

from portal.domain.enums import CaseStatus, Role
from portal.domain.models import AuditEntry, Case, CaseEvent, User
from portal.domain.types import utcnow

NEW_PASSWORD = "a-brand-new-secret-7"


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/settings").status_code == 200


def _browser(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    assert sign_in(client, email, password).status_code == 302
    return client


def _actions(db: Session) -> list[str]:
    db.expire_all()
    return list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def _confirmed(admin: FlaskClient, user: User, action: str) -> object:
    token = csrf_token(admin, "/admin/users")
    asked = admin.post(f"/admin/users/{user.id}/{action}", data={"csrf_token": token})
    assert asked.status_code == 200 and 'id="user-action-confirm"' in asked.get_data(as_text=True)
    return admin.post(f"/admin/users/{user.id}/{action}", data={"csrf_token": token, "confirmed": "1"})


def test_admin_creates_a_user_with_language_and_zone(
    login: Callable[[Role], FlaskClient], db: Session
) -> None:
    admin = login(Role.ADMIN)
    response = admin.post("/admin/users", data={
        "csrf_token": csrf_token(admin, "/admin/users"), "name": "Mei Lin", "email": "Mei@Example.test",
        "role": "cs_agent", "locale": "zh", "timezone": "Asia/Shanghai", "password": "long-enough-1"})
    assert response.status_code == 302
    mei = db.scalar(select(User).where(User.email == "mei@example.test"))
    assert mei is not None and (mei.locale, mei.timezone, mei.role) == ("zh", "Asia/Shanghai", Role.CS_AGENT)
    row = admin.get("/admin/users").get_data(as_text=True)
    assert "简体中文" in row and "Asia/Shanghai" in row


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("timezone", "Mars/Olympus", "Not a valid choice."), ("locale", "xx", "Not a valid choice."),
     ("name", "x" * 121, "Field cannot be longer than 120 characters.")],
)
def test_a_bad_new_user_is_refused_and_nothing_is_created(
    login: Callable[[Role], FlaskClient], db: Session, field: str, value: str, message: str
) -> None:
    admin = login(Role.ADMIN)
    data = {"csrf_token": csrf_token(admin, "/admin/users"), "name": "Bo", "email": "bo@example.test",
            "role": "cs_agent", "locale": "", "timezone": "", "password": "long-enough-1", field: value}
    response = admin.post("/admin/users", data=data)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.scalar(select(User).where(User.email == "bo@example.test")) is None


def test_admin_edits_name_language_and_zone_and_the_trail_shows_before_and_after(
    login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    admin, agent = login(Role.ADMIN), users[Role.CS_AGENT]
    browser = login(Role.CS_AGENT)
    page = admin.get(f"/admin/users/{agent.id}").get_data(as_text=True)
    assert 'value="Cs Agent"' in page
    response = admin.post(f"/admin/users/{agent.id}", data={
        "csrf_token": csrf_token(admin, f"/admin/users/{agent.id}"), "name": "Ana", "role": "cs_agent",
        "locale": "zh", "timezone": "Europe/Berlin"})
    assert response.status_code == 303
    db.refresh(agent)
    assert (agent.name, agent.locale, agent.timezone) == ("Ana", "zh", "Europe/Berlin")
    assert _signed_in(browser)  # no role change: nobody is signed out
    trail = login(Role.AUDITOR).get("/audit?action=user.updated").get_data(as_text=True)
    assert "Changed the details of agent@example.test" in trail
    assert "Time zone: <del>—</del> → <ins>Europe/Berlin</ins>" in trail
    assert "Name: <del>Cs Agent</del> → <ins>Ana</ins>" in trail


def test_demoting_asks_first_then_ends_the_users_sessions(
    app: Flask, login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    ops = users[Role.OPS_MANAGER]
    browser = login(Role.OPS_MANAGER)
    admin = login(Role.ADMIN)
    data = {"csrf_token": csrf_token(admin, f"/admin/users/{ops.id}"), "name": ops.name, "role": "cs_agent",
            "locale": "", "timezone": ""}
    asked = admin.post(f"/admin/users/{ops.id}", data=data)
    assert asked.status_code == 200 and 'id="role-confirm"' in asked.get_data(as_text=True)
    db.refresh(ops)
    assert ops.role == Role.OPS_MANAGER and _signed_in(browser)  # nothing before confirming
    # A confirmation for another role than the one submitted does not count.
    assert admin.post(f"/admin/users/{ops.id}", data={**data, "confirmed": "auditor"}).status_code == 200
    done = admin.post(f"/admin/users/{ops.id}", data={**data, "confirmed": "cs_agent"})
    assert done.status_code == 303
    db.refresh(ops)
    assert ops.role == Role.CS_AGENT and not _signed_in(browser)
    assert "user.role_changed" in _actions(db)
    assert "signed out everywhere (1 sessions ended)" in admin.get("/admin/users").get_data(as_text=True)


def test_promoting_to_admin_keeps_the_sessions(
    login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    agent = users[Role.CS_AGENT]
    browser = login(Role.CS_AGENT)
    admin = login(Role.ADMIN)
    response = admin.post(f"/admin/users/{agent.id}", data={
        "csrf_token": csrf_token(admin, f"/admin/users/{agent.id}"), "name": agent.name, "role": "admin",
        "locale": "", "timezone": ""})
    assert response.status_code == 303 and _signed_in(browser)
    assert browser.get("/admin/users").status_code == 200


def test_the_last_admin_cannot_demote_themselves_but_one_of_two_can(
    login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session, password_hash: str
) -> None:
    me = users[Role.ADMIN]
    admin = login(Role.ADMIN)
    data = {"csrf_token": csrf_token(admin, f"/admin/users/{me.id}"), "name": me.name, "role": "auditor",
            "locale": "", "timezone": "", "confirmed": "auditor"}
    refused = admin.post(f"/admin/users/{me.id}", data=data)
    assert refused.status_code == 422
    assert "admin@example.test is the last active admin; make someone else admin first." in refused.get_data(
        as_text=True)
    db.refresh(me)
    assert me.role == Role.ADMIN and _signed_in(admin)
    # An inactive admin does not count as one left.
    db.add(User(email="old-admin@example.test", name="Old", role=Role.ADMIN, password_hash=password_hash,
                active=False))
    db.commit()
    assert admin.post(f"/admin/users/{me.id}", data=data).status_code == 422
    db.add(User(email="second-admin@example.test", name="Second", role=Role.ADMIN,
                password_hash=password_hash))
    db.commit()
    assert admin.post(f"/admin/users/{me.id}", data=data).status_code == 303
    db.refresh(me)
    assert me.role == Role.AUDITOR and not _signed_in(admin)


def test_the_last_admin_cannot_be_deactivated(
    db: Session, users: dict[Role, User], password_hash: str
) -> None:
    from portal.domain.users import LastAdminError, set_active

    me = users[Role.ADMIN]
    other = User(email="other-admin@example.test", name="Other", role=Role.ADMIN, password_hash=password_hash)
    db.add(other)
    db.commit()
    set_active(db, other, False, actor=me)  # one admin is left: allowed
    with pytest.raises(LastAdminError):
        set_active(db, me, False, actor=other)  # an inactive admin's stale page cannot remove the last one
    db.rollback()


def test_deactivation_ends_sessions_and_returns_open_cases_to_the_queue(
    app: Flask, login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    agent = users[Role.CS_AGENT]
    _shop, market = shop_with_market(db)
    open_cases = [make_case(db, market, number=f"AS-90000{i}") for i in range(2)]
    done_case = make_case(db, market, number="AS-900009", status=CaseStatus.RESOLVED)
    for case in [*open_cases, done_case]:
        case.assignee_id = agent.id
    db.commit()
    browsers = [login(Role.CS_AGENT), login(Role.CS_AGENT)]
    admin = login(Role.ADMIN)
    assert _confirmed(admin, agent, "deactivate").status_code == 303
    assert not any(_signed_in(b) for b in browsers)
    assert sign_in(app.test_client(), agent.email).status_code == 401
    db.expire_all()
    assert [c.assignee_id for c in db.scalars(select(Case).order_by(Case.number))] == [None, None, agent.id]
    events = db.scalars(select(CaseEvent).where(CaseEvent.kind == "assigned")).all()
    assert sorted(e.case.number for e in events) == ["AS-900000", "AS-900001"]
    assert all(e.data == {"to": None, "from": "Cs Agent", "reason": "deactivated"} for e in events)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.deactivated"))
    assert entry is not None
    assert entry.details["cases_unassigned"] == 2 and entry.details["sessions_ended"] == 2
    timeline = admin.get("/cases/AS-900000").get_data(as_text=True)
    assert "Back in the queue, unassigned: Cs Agent was deactivated" in timeline
    trail = login(Role.AUDITOR).get("/audit?action=user.deactivated").get_data(as_text=True)
    assert "Deactivated agent@example.test; 2 sessions ended; 2 open cases back in the queue" in trail


def test_reactivation_lets_them_sign_in_again(
    app: Flask, login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    agent = users[Role.CS_AGENT]
    admin = login(Role.ADMIN)
    _confirmed(admin, agent, "deactivate")
    assert _confirmed(admin, agent, "reactivate").status_code == 303
    assert "agent@example.test is reactivated." in admin.get("/admin/users").get_data(as_text=True)
    assert _signed_in(_browser(app, agent.email))
    assert _actions(db)[-2:] == ["user.reactivated", "user.login"]


def _reset_link(admin: FlaskClient, user: User) -> str:
    response = _confirmed(admin, user, "reset_password")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"  # type: ignore[attr-defined]
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "it is shown only this once" in html
    link = re.search(r'value="(http://localhost/password/reset/[^"]+)" id="reset-link-value"', html)
    assert link
    return link.group(1).removeprefix("http://localhost")


def test_a_password_link_works_once_and_ends_every_old_session(
    app: Flask, login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    agent = users[Role.CS_AGENT]
    old_browser = login(Role.CS_AGENT)
    admin = login(Role.ADMIN)
    path = _reset_link(admin, agent)
    assert "/password/reset/" not in admin.get("/admin/users").get_data(as_text=True)  # shown once only
    assert _signed_in(old_browser)  # making the link changes nothing yet

    visitor = app.test_client()
    form = visitor.get(path)
    assert form.status_code == 200 and form.headers["Referrer-Policy"] == "no-referrer"
    assert "For Cs Agent (agent@example.test)" in form.get_data(as_text=True)
    token = csrf_token(visitor, path)
    mismatch = visitor.post(path, data={"csrf_token": token, "new": NEW_PASSWORD, "repeat": "something-else"})
    assert mismatch.status_code == 422 and "The two new passwords differ." in mismatch.get_data(as_text=True)
    short = visitor.post(path, data={"csrf_token": token, "new": "short", "repeat": "short"})
    assert short.status_code == 422
    done = visitor.post(path, data={"csrf_token": token, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    assert not _signed_in(old_browser)
    assert sign_in(app.test_client(), agent.email).status_code == 401  # the old password is gone
    assert _signed_in(_browser(app, agent.email, NEW_PASSWORD))

    again = app.test_client().get(path)
    assert again.status_code == 410 and "This link was already used." in again.get_data(as_text=True)
    assert {"user.password_reset_link", "user.password_reset"} <= set(_actions(db))


def test_a_password_link_expires(
    app: Flask, login: Callable[[Role], FlaskClient], users: dict[Role, User]
) -> None:
    agent = users[Role.CS_AGENT]
    path = _reset_link(login(Role.ADMIN), agent)
    with time_machine.travel(utcnow() + timedelta(hours=23, minutes=50)):
        assert app.test_client().get(path).status_code == 200
    with time_machine.travel(utcnow() + timedelta(hours=24, minutes=10)):
        late = app.test_client().get(path)
    assert late.status_code == 410 and "This link has expired." in late.get_data(as_text=True)


def test_forged_links_and_links_of_deactivated_users_are_refused(
    app: Flask, login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    agent = users[Role.CS_AGENT]
    admin = login(Role.ADMIN)
    path = _reset_link(admin, agent)
    for forged in (path[:-3] + "abc", "/password/reset/" + "x" * 500, "/password/reset/abc"):
        response = app.test_client().get(forged)
        assert response.status_code == 404 and "This link is not valid." in response.get_data(as_text=True)
    _confirmed(admin, agent, "deactivate")
    assert app.test_client().get(path).status_code == 404


def test_a_new_password_through_a_link_is_refused_for_a_deactivated_user(
    login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    agent = users[Role.CS_AGENT]
    admin = login(Role.ADMIN)
    _confirmed(admin, agent, "deactivate")
    response = admin.post(f"/admin/users/{agent.id}/reset_password",
                          data={"csrf_token": csrf_token(admin, "/admin/users"), "confirmed": "1"})
    assert response.status_code == 303
    assert "Reactivate agent@example.test first" in admin.get("/admin/users").get_data(as_text=True)
    assert "user.password_reset_link" not in _actions(db)


def test_with_a_mail_server_the_link_goes_by_e_mail_and_is_not_shown(
    app: Flask, login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    agent = users[Role.CS_AGENT]
    with smtp_server() as (inbox, port):
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
        admin = login(Role.ADMIN)
        response = _confirmed(admin, agent, "reset_password")
        assert response.status_code == 303  # type: ignore[attr-defined]
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "A link to set a new password is on its way to agent@example.test." in page
    assert "/password/reset/" not in page
    assert len(inbox.messages) == 1 and inbox.messages[0]["To"].addresses[0].addr_spec == agent.email
    assert inbox.messages[0]["Subject"] == "Set a new password for Aftersales Desk"
    assert inbox.messages[0]["From"].addresses[0].display_name == "Aftersales Desk"
    body = inbox.messages[0].get_content()
    path = re.search(r"http://localhost(/password/reset/\S+)", body)
    assert path and app.test_client().get(path.group(1)).status_code == 200
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "user.password_reset_link"))
    assert entry is not None and entry.details["sent_by_email"] is True


def test_when_mail_fails_the_admin_gets_the_link_instead(
    app: Flask, login: Callable[[Role], FlaskClient], users: dict[Role, User]
) -> None:
    with smtp_server() as (_inbox, port):
        pass  # the port is free again: nobody answers there
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    admin = login(Role.ADMIN)
    html = _confirmed(admin, users[Role.CS_AGENT], "reset_password").get_data(as_text=True)  # type: ignore[attr-defined]
    assert "The e-mail could not be sent" in html and 'id="reset-link-value"' in html


@pytest.mark.parametrize("role", [Role.CS_AGENT, Role.AUDITOR, Role.OPS_MANAGER])
def test_only_admins_manage_users(
    login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session, role: Role
) -> None:
    client = login(role)
    target = users[Role.CS_AGENT]
    token = csrf_token(client, "/settings")
    assert client.get(f"/admin/users/{target.id}").status_code == 403
    assert client.post(f"/admin/users/{target.id}", data={"csrf_token": token, "name": "X", "role": "admin",
                                                          "locale": "", "timezone": ""}).status_code == 403
    for action in ("deactivate", "reset_password"):
        response = client.post(f"/admin/users/{target.id}/{action}",
                               data={"csrf_token": token, "confirmed": "1"})
        assert response.status_code == 403
    db.refresh(target)
    assert target.active and target.role == Role.CS_AGENT and target.name == "Cs Agent"


def test_user_changes_need_the_csrf_token(
    login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    admin = login(Role.ADMIN)
    agent = users[Role.CS_AGENT]
    assert admin.post(f"/admin/users/{agent.id}/deactivate", data={"confirmed": "1"}).status_code == 400
    edit = {"name": "X", "role": "auditor", "locale": "", "timezone": "", "confirmed": "auditor"}
    assert admin.post(f"/admin/users/{agent.id}", data=edit).status_code == 400
    path = _reset_link(admin, agent)
    visitor = admin.application.test_client()
    assert visitor.post(path, data={"new": NEW_PASSWORD, "repeat": NEW_PASSWORD}).status_code == 400
    db.refresh(agent)
    assert agent.active and agent.role == Role.CS_AGENT
    assert _signed_in(_browser(admin.application, agent.email))

"""Signing in and out, CSRF, cookies, security headers, language and time zone choices."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import PASSWORD, csrf_token, sign_in

from portal.domain.enums import Role
from portal.domain.models import AuditEntry, User


def test_login_page_has_the_form(client: FlaskClient) -> None:
    html = client.get("/login").get_data(as_text=True)
    assert 'name="email"' in html and 'name="password"' in html and 'name="csrf_token"' in html


def test_sign_in_lands_on_the_role_home_and_is_audited(
    client: FlaskClient, users: dict[Role, User], db: Session
) -> None:
    response = sign_in(client, users[Role.AUDITOR].email)
    assert response.status_code == 302 and response.location == "/"
    assert client.get("/").location == "/audit"
    actions = db.scalars(select(AuditEntry.action)).all()
    assert "user.login" in actions


@pytest.mark.parametrize(
    "email, password",
    [
        ("agent@example.test", "wrong-password"),
        ("nobody@example.test", PASSWORD),
        ("", ""),
    ],
)
def test_bad_credentials_are_refused_with_a_message(
    client: FlaskClient, users: dict[Role, User], email: str, password: str
) -> None:
    response = sign_in(client, email, password)
    assert response.status_code in (200, 401)
    assert client.get("/cases").status_code == 302  # still signed out
    if email:
        assert "E-mail or password is wrong." in response.get_data(as_text=True)


def test_inactive_user_cannot_sign_in(client: FlaskClient, users: dict[Role, User], db: Session) -> None:
    user = db.get(User, users[Role.CS_AGENT].id)
    user.active = False
    db.commit()
    assert sign_in(client, user.email).status_code == 401


def test_post_without_csrf_token_is_refused(client: FlaskClient, users: dict[Role, User]) -> None:
    response = client.post("/login", data={"email": users[Role.CS_AGENT].email, "password": PASSWORD})
    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert client.get("/cases").status_code == 302


def test_htmx_post_uses_the_header_token(login: Callable[[Role], FlaskClient]) -> None:
    agent = login(Role.AUDITOR)
    token = csrf_token(agent, "/settings")
    assert agent.post("/audit/verify", headers={"HX-Request": "true"}).status_code == 400
    response = agent.post("/audit/verify", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    assert 'id="chain-report"' in response.get_data(as_text=True)


def test_body_carries_the_csrf_header_for_htmx(login: Callable[[Role], FlaskClient]) -> None:
    html = login(Role.CS_AGENT).get("/cases").get_data(as_text=True)
    assert "hx-headers='{&#34;X-CSRFToken&#34;: &#34;" in html or 'hx-headers=\'{"X-CSRFToken": "' in html


def test_next_parameter_only_redirects_within_the_site(client: FlaskClient, users: dict[Role, User]) -> None:
    token = csrf_token(client)
    for target, expected in [
        ("/cases?status=all", "/cases?status=all"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
    ]:
        fresh = client.application.test_client()
        token = csrf_token(fresh)
        response = fresh.post(
            f"/login?next={target}",
            data={"email": users[Role.CS_AGENT].email, "password": PASSWORD, "csrf_token": token},
        )
        assert response.location == expected


def test_session_cookie_flags(client: FlaskClient, users: dict[Role, User]) -> None:
    response = sign_in(client, users[Role.CS_AGENT].email)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_security_headers_and_csp(client: FlaskClient) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in csp and "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    html = response.get_data(as_text=True)
    assert '"allowEval": false' in html
    assert "<script>" not in html  # no inline scripts: the CSP would block them


def test_sign_out_needs_post_and_ends_the_session(login: Callable[[Role], FlaskClient]) -> None:
    agent = login(Role.CS_AGENT)
    assert agent.get("/logout").status_code == 405
    response = agent.post("/logout", data={"csrf_token": csrf_token(agent, "/settings")})
    assert response.location == "/login"
    assert agent.get("/cases").status_code == 302


def test_language_choice_is_remembered_on_the_user(
    login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    agent = login(Role.CS_AGENT)
    response = agent.post(
        "/language", data={"locale": "zh", "next": "/cases", "csrf_token": csrf_token(agent, "/settings")}
    )
    assert response.location == "/cases"
    assert "案件" in agent.get("/cases").get_data(as_text=True)
    db.expire_all()
    assert db.get(User, users[Role.CS_AGENT].id).locale == "zh"
    # A new sign-in on another browser keeps the language.
    other = agent.application.test_client()
    sign_in(other, users[Role.CS_AGENT].email)
    assert '<html lang="zh">' in other.get("/cases").get_data(as_text=True)


def test_anonymous_visitor_can_switch_language(client: FlaskClient) -> None:
    client.post("/language", data={"locale": "zh", "csrf_token": csrf_token(client)})
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_settings_save_time_zone_and_reject_unknown_ones(
    login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    agent = login(Role.CS_AGENT)
    token = csrf_token(agent, "/settings")
    bad = agent.post("/settings", data={"locale": "en", "timezone": "Mars/Olympus", "csrf_token": token})
    assert bad.status_code == 200 and "Not a valid choice" in bad.get_data(as_text=True)
    good = agent.post(
        "/settings", data={"locale": "en", "timezone": "Asia/Kuala_Lumpur", "csrf_token": token}
    )
    assert good.status_code == 302
    db.expire_all()
    assert db.get(User, users[Role.CS_AGENT].id).timezone == "Asia/Kuala_Lumpur"


def test_browser_time_zone_is_taken_at_first_sign_in(
    client: FlaskClient, users: dict[Role, User], db: Session
) -> None:
    client.post(
        "/login",
        data={
            "email": users[Role.CS_AGENT].email,
            "password": PASSWORD,
            "tz": "Europe/Berlin",
            "csrf_token": csrf_token(client),
        },
    )
    db.expire_all()
    assert db.get(User, users[Role.CS_AGENT].id).timezone == "Europe/Berlin"


def test_admin_creates_a_user_who_can_sign_in(
    login: Callable[[Role], FlaskClient], app: Flask, db: Session
) -> None:
    admin = login(Role.ADMIN)
    token = csrf_token(admin, "/admin/users")
    response = admin.post(
        "/admin/users",
        data={
            "name": "Mei",
            "email": "Mei@Example.test",
            "role": "cs_agent",
            "password": "long-enough-1",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert "mei@example.test" in admin.get("/admin/users").get_data(as_text=True)
    assert sign_in(app.test_client(), "mei@example.test", "long-enough-1").status_code == 302


@pytest.mark.parametrize(
    "data, message",
    [
        ({"email": "agent@example.test"}, "already exists"),
        ({"email": "not-an-address"}, "is not an e-mail address"),
        ({"password": "short"}, "between 8 and 200 characters"),
    ],
)
def test_admin_user_form_errors_change_nothing(
    login: Callable[[Role], FlaskClient], db: Session, data: dict[str, str], message: str
) -> None:
    admin = login(Role.ADMIN)
    before = len(db.scalars(select(User)).all())
    form = {
        "name": "X",
        "email": "x@example.test",
        "role": "auditor",
        "password": "long-enough-1",
        "csrf_token": csrf_token(admin, "/admin/users"),
        **data,
    }
    response = admin.post("/admin/users", data=form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert len(db.scalars(select(User)).all()) == before

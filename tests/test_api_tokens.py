"""API tokens: made by an admin (page or CLI), shown once, stored as a hash, refused once revoked."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.api import bearer, make_token
from support.app import csrf_token

from portal.domain import api_tokens
from portal.domain.enums import Role
from portal.domain.models import ApiToken, AuditEntry


def test_only_a_hash_and_a_prefix_are_stored(db: Session) -> None:
    new = api_tokens.create_token(db, "  ERP   sync ", "cs_agent")
    db.commit()
    row = db.scalar(select(ApiToken))
    assert row.name == "ERP sync" and row.role == Role.CS_AGENT
    assert row.token_hash == hashlib.sha256(new.secret.encode()).hexdigest()
    assert new.secret.startswith("asd_") and len(new.secret) > 40 and new.secret.startswith(row.prefix)
    assert new.secret not in {getattr(row, c.key) for c in ApiToken.__table__.columns}
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.created")) is not None


@pytest.mark.parametrize("name, role", [("", "cs_agent"), ("x" * 81, "cs_agent"), ("ERP", "superuser")])
def test_bad_names_and_roles_are_refused(db: Session, name: str, role: str) -> None:
    with pytest.raises(api_tokens.TokenError):
        api_tokens.create_token(db, name, role)


def test_find_active_notes_last_use_and_ignores_revoked(db: Session) -> None:
    new = api_tokens.create_token(db, "ERP", Role.AUDITOR)
    db.commit()
    assert api_tokens.find_active(db, new.secret).id == new.token.id
    assert new.token.last_used_at is not None
    assert api_tokens.find_active(db, new.secret + "x") is None
    assert api_tokens.find_active(db, "not-a-token") is None
    api_tokens.revoke_token(db, new.token.id)
    db.commit()
    assert api_tokens.find_active(db, new.secret) is None


# ---- how the API treats requests ------------------------------------------------------------------


def test_missing_unknown_and_revoked_tokens_get_401(app: Flask, db: Session) -> None:
    client = app.test_client()
    secret = make_token(db, Role.CS_AGENT)
    assert client.get("/api/v1/cases", headers=bearer(secret)).status_code == 200
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, bearer("asd_unknown")):
        response = client.get("/api/v1/cases", headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.is_json and response.get_json()["error"]["code"] in {"unauthorized", "invalid_token"}
    api_tokens.revoke_token(db, db.scalar(select(ApiToken.id)))
    db.commit()
    refused = client.get("/api/v1/cases", headers=bearer(secret))
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "invalid_token"


def test_a_signed_in_browser_session_does_not_reach_the_api(login: Callable[[Role], FlaskClient]) -> None:
    admin = login(Role.ADMIN)
    assert admin.get("/cases").status_code == 200
    response = admin.get("/api/v1/cases")
    assert response.status_code == 401 and response.is_json
    assert admin.post("/api/v1/cases", json={}).status_code == 401


def test_the_token_role_decides(app: Flask, db: Session) -> None:
    auditor = bearer(make_token(db, Role.AUDITOR))
    client = app.test_client()
    assert client.get("/api/v1/cases", headers=auditor).status_code == 200
    response = client.post("/api/v1/cases", json={}, headers=auditor)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


def test_api_responses_set_no_session_cookie(app: Flask, db: Session) -> None:
    response = app.test_client().get("/api/v1/cases", headers=bearer(make_token(db, Role.CS_AGENT)))
    assert "Set-Cookie" not in response.headers


def test_openapi_document_is_public_and_describes_every_route(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    doc = response.get_json()
    assert response.status_code == 200 and doc["openapi"].startswith("3.1")
    api_rules = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi"
    }
    assert api_rules == set(doc["paths"])
    assert "CaseCreate" in doc["components"]["schemas"]


def test_errors_elsewhere_stay_html(app: Flask) -> None:
    response = app.test_client().get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    api = app.test_client().get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"
    wrong = app.test_client().put("/api/v1/cases")
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"] and wrong.is_json


# ---- the admin page -------------------------------------------------------------------------------


def test_admin_creates_a_token_shown_once_and_revokes_it(
    app: Flask, login: Callable[[Role], FlaskClient], db: Session
) -> None:
    admin = login(Role.ADMIN)
    empty = admin.get("/admin/tokens").get_data(as_text=True)
    assert "No API tokens yet" in empty
    created = admin.post(
        "/admin/tokens",
        data={"csrf_token": csrf_token(admin, "/admin/tokens"), "name": "ERP", "role": "cs_agent"},
    )
    html = created.get_data(as_text=True)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-token-value" type="text" readonly value="(asd_[^"]+)"', html).group(1)
    assert app.test_client().get("/api/v1/cases", headers=bearer(secret)).status_code == 200
    listing = admin.get("/admin/tokens").get_data(as_text=True)
    assert secret not in listing and secret[:12] in listing and "ERP" in listing

    token_id = db.scalar(select(ApiToken.id))
    asked = admin.post(
        f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(admin, "/admin/tokens")}
    )
    assert asked.status_code == 200 and "Revoke token “ERP”" in asked.get_data(as_text=True)
    assert app.test_client().get("/api/v1/cases", headers=bearer(secret)).status_code == 200
    done = admin.post(
        f"/admin/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_token(admin, "/admin/tokens"), "confirmed": "1"},
    )
    assert done.status_code == 302
    assert app.test_client().get("/api/v1/cases", headers=bearer(secret)).status_code == 401
    assert "Revoked" in admin.get("/admin/tokens").get_data(as_text=True)


def test_admin_form_refuses_a_blank_name(login: Callable[[Role], FlaskClient], db: Session) -> None:
    admin = login(Role.ADMIN)
    response = admin.post(
        "/admin/tokens",
        data={"csrf_token": csrf_token(admin, "/admin/tokens"), "name": " ", "role": "cs_agent"},
    )
    assert response.status_code == 422 and db.scalar(select(ApiToken)) is None


# ---- the command line -----------------------------------------------------------------------------


def test_cli_create_list_revoke(app: Flask, db: Session) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=["api-token", "create", "Nightly export", "--role", "auditor"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("asd_")
    assert app.test_client().get("/api/v1/cases", headers=bearer(secret)).status_code == 200
    listing = runner.invoke(args=["api-token", "list"])
    assert "Nightly export" in listing.output and "active" in listing.output and secret not in listing.output
    token_id = db.scalar(select(ApiToken.id))
    assert runner.invoke(args=["api-token", "revoke", str(token_id)]).exit_code == 0
    assert "revoked" in runner.invoke(args=["api-token", "list"]).output
    assert app.test_client().get("/api/v1/cases", headers=bearer(secret)).status_code == 401
    assert runner.invoke(args=["api-token", "revoke", "999"]).exit_code != 0
    assert runner.invoke(args=["api-token", "create", "X", "--role", "root"]).exit_code != 0

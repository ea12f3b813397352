"""The demo shop renders: every seeded case page, the queue and the policies open for the demo users."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import sign_in

from portal.demo.seed import DEMO_PASSWORD, DEMO_USERS, seed_demo
from portal.domain.enums import Role
from portal.domain.models import Case, PolicyVersion


@pytest.fixture
def demo(app: Flask, db: Session) -> None:
    seed_demo(db, app.extensions["attachments"], scale=0.03)
    db.commit()


def _client(app: Flask, role: Role) -> FlaskClient:
    client = app.test_client()
    email = next(email for email, _name, user_role in DEMO_USERS if user_role == role)
    assert sign_in(client, email, DEMO_PASSWORD).status_code == 302
    return client


def test_every_seeded_case_page_renders(app: Flask, db: Session, demo: None) -> None:
    agent = _client(app, Role.CS_AGENT)
    numbers = db.scalars(select(Case.number)).all()
    assert numbers
    for number in numbers:
        response = agent.get(f"/cases/{number}")
        assert response.status_code == 200, number
    for url in ("/cases", "/cases?status=all", "/cases?view=overdue", "/cases?sort=value", "/policies"):
        assert agent.get(url).status_code == 200, url


def test_demo_ops_manager_reads_policies_in_chinese(app: Flask, db: Session, demo: None) -> None:
    ops = _client(app, Role.OPS_MANAGER)
    version = db.scalar(select(PolicyVersion).limit(1))
    html = ops.get(f"/policies/{version.policy_id}/versions/{version.number}").get_data(as_text=True)
    assert '<html lang="zh">' in html


def test_auditor_opens_the_audit_trail_and_verifies_it(app: Flask, demo: None) -> None:
    auditor = _client(app, Role.AUDITOR)
    assert auditor.get("/audit").status_code == 200
    from support.app import csrf_token
    from support.audit import sequence_all

    verify = {"csrf_token": csrf_token(auditor, "/audit")}
    html = auditor.post("/audit/verify", data=verify).get_data(as_text=True)
    assert "Nothing has been signed yet" in html and "wait to be sequenced" in html  # not a failure
    sequence_all(app)  # what the scheduler does every second
    html = auditor.post("/audit/verify", data=verify).get_data(as_text=True)
    assert "The log is intact" in html and "match the latest signed checkpoint" in html

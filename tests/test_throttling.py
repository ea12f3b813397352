"""Throttles held in the database: sign-in per account and per address, the API per token, webhooks per
source; each answers 429 with Retry-After, and every worker counts together."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.api import bearer, make_token
from support.app import PASSWORD, csrf_token, make_test_app

from portal.db import make_engine
from portal.domain.accounts import throttle
from portal.domain.accounts.throttle import Limit, LimitError, parse_limit
from portal.domain.enums import Role
from portal.domain.models import ThrottleBucket, User
from portal.domain.types import utcnow


def _attempt(client: FlaskClient, token: str, email: str, password: str) -> object:
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_200_wrong_passwords_then_the_right_one_is_refused_with_429(
    app: Flask, users: dict[Role, User]
) -> None:
    email = users[Role.CS_AGENT].email
    with time_machine.travel(utcnow(), tick=False) as clock:
        client = app.test_client()
        token = csrf_token(client)
        statuses = [_attempt(client, token, email, f"wrong-{n}").status_code for n in range(200)]
        assert statuses[:10] == [401] * 10  # THROTTLE_SIGNIN_ACCOUNT: 10 per 15 minutes
        assert set(statuses[10:]) == {429}

        right = _attempt(client, token, email, PASSWORD)
        assert right.status_code == 429
        retry_after = int(right.headers["Retry-After"])
        assert 0 < retry_after <= 15 * 60
        html = right.get_data(as_text=True)
        minutes = -(-retry_after // 60)
        assert f"Too many sign-in attempts. Wait {minutes} minutes and try again." in html
        assert 'id="throttled"' in html
        assert client.get("/cases").status_code == 302  # not signed in

        # Another address trying the same account is refused too: the count is the account's.
        other = app.test_client()
        other.environ_base["REMOTE_ADDR"] = "198.51.100.7"
        assert _attempt(other, csrf_token(other), email, PASSWORD).status_code == 429

        clock.shift(timedelta(seconds=retry_after))
        assert _attempt(client, token, email, PASSWORD).status_code == 302


def test_successful_sign_ins_do_not_count(app: Flask, users: dict[Role, User]) -> None:
    email = users[Role.CS_AGENT].email
    for _ in range(15):
        client = app.test_client()
        assert _attempt(client, csrf_token(client), email, PASSWORD).status_code == 302


def test_one_address_trying_many_accounts_is_throttled(app: Flask, users: dict[Role, User]) -> None:
    client = app.test_client()
    token = csrf_token(client)
    statuses = [_attempt(client, token, f"guess{n}@example.test", "password1").status_code for n in range(60)]
    assert statuses[:50] == [401] * 50  # THROTTLE_SIGNIN_ADDRESS: 50 per 15 minutes
    assert set(statuses[50:]) == {429}
    # Other people (other addresses) still sign in.
    office = app.test_client()
    office.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert _attempt(office, csrf_token(office), users[Role.AUDITOR].email, PASSWORD).status_code == 302


def test_every_worker_counts_together(database_url: str, tmp_path: Path, users: dict[Role, User]) -> None:
    """Two app instances (two workers, or two hosts) on one database share the account's count."""
    workers = [make_test_app(database_url, tmp_path) for _ in range(2)]
    email = users[Role.CS_AGENT].email
    clients = [worker.test_client() for worker in workers]
    tokens = [csrf_token(client) for client in clients]
    statuses = [_attempt(clients[n % 2], tokens[n % 2], email, "wrong-password").status_code
                for n in range(14)]
    assert statuses.count(401) == 10 and statuses.count(429) == 4
    for worker in workers:
        worker.extensions["database"].engine.dispose()


def test_concurrent_attempts_cannot_slip_past_the_limit(
    database_url: str, tmp_path: Path, users: dict[Role, User]
) -> None:
    app = make_test_app(database_url, tmp_path, PROPAGATE_EXCEPTIONS=False)
    email = users[Role.CS_AGENT].email
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt() -> None:
        client = app.test_client()
        status = _attempt(client, csrf_token(client), email, "wrong-password").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=attempt) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    app.extensions["database"].engine.dispose()
    assert sorted(statuses) == [401] * 10 + [429] * 30


def test_wrong_codes_count_against_the_account_too(app: Flask, users: dict[Role, User], db: Session) -> None:
    from portal.domain.accounts import second_factor

    ops = db.get(User, users[Role.OPS_MANAGER].id)
    second_factor.begin_enrolment(ops, second_factor.vault_from_config(app.config))
    ops.totp_enabled_at = utcnow()
    db.commit()
    client = app.test_client()
    assert _attempt(client, csrf_token(client), ops.email, PASSWORD).status_code == 302
    token = csrf_token(client, "/login/code")
    statuses = [client.post("/login/code", data={"code": f"{n:06d}", "csrf_token": token}).status_code
                for n in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]


def test_api_is_throttled_per_token_with_json_and_retry_after(
    database_url: str, tmp_path: Path, db: Session
) -> None:
    app = make_test_app(database_url, tmp_path, THROTTLE_API_TOKEN="5/min")
    busy, quiet = make_token(db, Role.CS_AGENT, "busy"), make_token(db, Role.CS_AGENT, "quiet")
    client = app.test_client()
    statuses = [client.get("/api/v1/cases", headers=bearer(busy)).status_code for _ in range(5)]
    assert statuses == [200] * 5
    refused = client.get("/api/v1/cases", headers=bearer(busy))
    assert refused.status_code == 429 and refused.is_json
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited" and "Too many requests with this token" in error["message"]
    assert error["details"]["retry_after"] == int(refused.headers["Retry-After"])
    assert client.get("/api/v1/cases", headers=bearer(quiet)).status_code == 200  # per token
    document = client.get("/api/v1/openapi.json").get_json()
    for path in document["paths"].values():
        for operation in path.values():
            assert "Retry-After" in operation["responses"]["429"]["headers"]
    app.extensions["database"].engine.dispose()


def test_an_address_guessing_api_tokens_is_refused(database_url: str, tmp_path: Path, db: Session) -> None:
    app = make_test_app(database_url, tmp_path, THROTTLE_API_FAILURES="3/min")
    guesser = app.test_client()
    for guess in ("asd_wrong", "asd_wrong-again", ""):
        assert guesser.get("/api/v1/cases", headers=bearer(guess)).status_code == 401
    refused = guesser.get("/api/v1/cases", headers=bearer(make_token(db, Role.CS_AGENT)))
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert guesser.get("/api/v1/openapi.json").status_code == 200  # the public document stays open
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.80"
    assert other.get("/api/v1/cases", headers=bearer(make_token(db, Role.CS_AGENT))).status_code == 200
    app.extensions["database"].engine.dispose()


@pytest.mark.parametrize("url", ["/webhooks/tiktok-shop", "/webhooks/aftership", "/webhooks/17track"])
def test_webhooks_are_throttled_per_source(database_url: str, tmp_path: Path, url: str) -> None:
    app = make_test_app(database_url, tmp_path, THROTTLE_WEBHOOK_SOURCE="3/min")
    flood = app.test_client()
    statuses = [flood.post(url, data=b"{}", content_type="application/json").status_code for _ in range(3)]
    assert 429 not in statuses  # unsigned, so refused by the webhook itself: but counted
    refused = flood.post(url, data=b"{}", content_type="application/json")
    assert refused.status_code == 429 and refused.is_json
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    assert other.post(url, data=b"{}", content_type="application/json").status_code != 429
    app.extensions["database"].engine.dispose()


def test_forwarded_addresses_count_only_behind_trusted_proxies(
    database_url: str, tmp_path: Path
) -> None:
    url = "/webhooks/aftership"
    # No trusted proxy: a client cannot dodge its count by making up X-Forwarded-For.
    direct = make_test_app(database_url, tmp_path, THROTTLE_WEBHOOK_SOURCE="2/min")
    client = direct.test_client()
    statuses = [client.post(url, data=b"{}", headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code
                for n in range(3)]
    assert statuses[2] == 429
    direct.extensions["database"].engine.dispose()

    # One trusted proxy: each real client (as the proxy reports it) has its own count.
    proxied = make_test_app(database_url, tmp_path, THROTTLE_WEBHOOK_SOURCE="2/min", TRUSTED_PROXIES=1)
    client = proxied.test_client()
    statuses = [client.post(url, data=b"{}", headers={"X-Forwarded-For": f"10.1.0.{n}"}).status_code
                for n in range(3)]
    assert 429 not in statuses
    secure = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert secure.status_code == 200
    proxied.extensions["database"].engine.dispose()


def test_limits_are_written_like_people_say_them() -> None:
    assert parse_limit("10/15min") == Limit(10, 900)
    assert parse_limit("600/min") == Limit(600, 60)
    assert parse_limit("5 per 30s") == Limit(5, 30)
    assert parse_limit("1000/day") == Limit(1000, 86400)
    assert parse_limit("off") is None and parse_limit("") is None
    for bad in ("ten/min", "10/fortnight", "0/min", "10/0min", "10"):
        with pytest.raises(LimitError):
            parse_limit(bad)


def test_a_mistyped_limit_stops_the_start(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(LimitError, match="not a rate limit"):
        make_test_app(database_url, tmp_path, THROTTLE_API_TOKEN="lots")


def test_the_window_slides_and_old_buckets_are_cleaned(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(database_url)
    limit = Limit(3, 60)
    start = utcnow().replace(second=0, microsecond=0)
    try:
        verdicts = [throttle.hit(engine, "test", "subject", limit, start + timedelta(seconds=s))
                    for s in (0, 20, 40, 45)]
        assert [v.allowed for v in verdicts] == [True, True, True, False]
        assert verdicts[3].retry_after == 15  # the first hit leaves the window at 60 s
        assert throttle.hit(engine, "test", "subject", limit, start + timedelta(seconds=60)).allowed
        assert not throttle.hit(engine, "test", "subject", limit, start + timedelta(seconds=61)).allowed
        assert throttle.hit(engine, "test", "other", limit, start + timedelta(seconds=61)).allowed

        monkeypatch.setattr(throttle, "CLEANUP_ONE_IN", 1)
        throttle.hit(engine, "test", "late", limit, start + timedelta(hours=1))
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(ThrottleBucket)) == 1
    finally:
        engine.dispose()


def test_peek_counts_nothing_and_add_counts_without_checking(database_url: str) -> None:
    engine = make_engine(database_url)
    limit = Limit(2, 60)
    now = utcnow().replace(second=0, microsecond=0)
    try:
        for _ in range(5):
            assert throttle.peek(engine, "test", "office", limit, now).allowed
        throttle.add(engine, "test", "office", limit, now)
        assert throttle.peek(engine, "test", "office", limit, now).allowed
        throttle.add(engine, "test", "office", limit, now + timedelta(seconds=30))
        refused = throttle.peek(engine, "test", "office", limit, now + timedelta(seconds=30))
        assert not refused.allowed and refused.retry_after == 30
    finally:
        engine.dispose()

"""Sign-in state is server-side and revocable: logout, password change, deactivation and an admin's
"sign out everywhere" end sessions at once; remember-me is a fresh, bounded, revocable session."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
import time_machine
from flask import Flask, got_request_exception
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from support.app import PASSWORD, csrf_token, make_test_app, sign_in

from portal.domain.accounts import second_factor
from portal.domain.enums import Role
from portal.domain.models import AuditEntry, User, UserSession
from portal.domain.shops.secrets import SecretUnreadable, Vault
from portal.domain.types import utcnow
from portal.domain.users import hash_password

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0"


def _client(app: Flask, user_agent: str = BROWSER) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def _sign_in(app: Flask, email: str, *, remember: bool = False, password: str = PASSWORD) -> FlaskClient:
    client = _client(app)
    data = {"email": email, "password": password, "csrf_token": csrf_token(client)}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def _set_cookies(response: object) -> dict[str, str]:
    """The Set-Cookie headers of a response, by cookie name."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):  # type: ignore[attr-defined]
        cookies[header.split("=", 1)[0]] = header
    return cookies


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/settings").status_code == 200


def _replay(app: Flask, cookie_value: str, user_agent: str = BROWSER) -> FlaskClient:
    """A new browser holding a copy of someone's session cookie."""
    thief = _client(app, user_agent)
    thief.set_cookie("session", cookie_value)
    return thief


def _logout(client: FlaskClient) -> None:
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/settings")})
    assert response.status_code == 302 and response.location == "/login"


def test_a_session_cookie_replayed_after_logout_is_refused(app: Flask, users: dict[Role, User]) -> None:
    agent = _sign_in(app, users[Role.CS_AGENT].email)
    cookie = agent.get_cookie("session")
    assert cookie is not None
    assert _signed_in(_replay(app, cookie.value))  # a copy works while the session lives
    _logout(agent)
    replayed = _replay(app, cookie.value)
    assert replayed.get("/cases").status_code == 302
    assert not _signed_in(replayed)


def test_sign_in_stores_a_session_row_and_logout_revokes_it(
    app: Flask, users: dict[Role, User], db: Session
) -> None:
    agent = _sign_in(app, users[Role.CS_AGENT].email)
    row = db.scalars(select(UserSession)).one()
    assert row.user_id == users[Role.CS_AGENT].id and row.revoked_at is None and not row.remember
    assert row.user_agent == BROWSER and row.address == "127.0.0.1"
    assert len(row.token_hash) == 64 and row.token_hash not in (agent.get_cookie("session").value or "")
    _logout(agent)
    db.expire_all()
    assert db.scalars(select(UserSession)).one().revoked_at is not None
    assert "user.logout" in db.scalars(select(AuditEntry.action)).all()


def test_remember_me_is_a_fresh_token_per_login_and_dies_on_logout(
    app: Flask, users: dict[Role, User], db: Session
) -> None:
    email = users[Role.CS_AGENT].email
    cookies = []
    for _ in range(2):
        client = _client(app)
        response = client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "remember": "y", "csrf_token": csrf_token(client)},
        )
        assert response.status_code == 302
        set_cookies = _set_cookies(response)
        # No long-lived Flask-Login cookie holding the user id: the session cookie itself is remembered.
        assert "remember_token" not in set_cookies
        header = set_cookies["session"]
        assert "HttpOnly" in header and "SameSite=Lax" in header and "Expires=" in header
        cookies.append((client, client.get_cookie("session").value))
    assert cookies[0][1] != cookies[1][1]
    rows = db.scalars(select(UserSession).order_by(UserSession.id)).all()
    assert len({row.token_hash for row in rows}) == 2 and all(row.remember for row in rows)
    # Bounded: fourteen days, not a year.
    assert all(timedelta(days=13) < row.expires_at - row.created_at <= timedelta(days=14) for row in rows)

    first_client, first_cookie = cookies[0]
    _logout(first_client)
    assert not _signed_in(_replay(app, first_cookie))
    assert _signed_in(_replay(app, cookies[1][1]))  # the other login is another session


def test_flask_login_remember_cookie_no_longer_signs_anyone_in(app: Flask, users: dict[Role, User]) -> None:
    from flask_login.utils import encode_cookie

    with app.test_request_context():
        forged = encode_cookie(str(users[Role.ADMIN].id))
    client = _client(app)
    client.set_cookie("remember_token", forged)
    assert client.get("/admin/users").status_code == 302
    assert not _signed_in(client)


def test_cookies_are_secure_and_hsts_is_sent_when_configured(
    database_url: str, tmp_path: Path, users: dict[Role, User]
) -> None:
    app = make_test_app(database_url, tmp_path, SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = BROWSER
    token = csrf_token(client, "https://localhost/login")
    response = client.post(
        "https://localhost/login",
        data={"email": users[Role.CS_AGENT].email, "password": PASSWORD, "remember": "y",
              "csrf_token": token},
        headers={"Referer": "https://localhost/login"},  # Flask-WTF checks the referrer over HTTPS
    )
    assert response.status_code == 302
    assert "Secure" in _set_cookies(response)["session"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    app.extensions["database"].engine.dispose()


def test_no_hsts_without_secure_cookies(client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_a_cookie_copied_into_another_browser_is_refused(app: Flask, users: dict[Role, User]) -> None:
    agent = _sign_in(app, users[Role.CS_AGENT].email, remember=True)
    cookie = agent.get_cookie("session").value
    assert not _signed_in(_replay(app, cookie, user_agent="curl/8.0"))
    assert _signed_in(agent)


def test_idle_sessions_end_and_remembered_ones_last_their_fixed_time(
    app: Flask, users: dict[Role, User]
) -> None:
    with time_machine.travel(utcnow(), tick=False) as clock:
        ordinary = _sign_in(app, users[Role.CS_AGENT].email)
        remembered = _sign_in(app, users[Role.AUDITOR].email, remember=True)
        clock.shift(timedelta(hours=11))
        assert _signed_in(ordinary) and _signed_in(remembered)  # activity restarts the idle clock
        clock.shift(timedelta(hours=11))
        assert _signed_in(ordinary)
        clock.shift(timedelta(hours=13))
        assert not _signed_in(ordinary)  # idle for longer than SESSION_IDLE_HOURS (12)
        assert _signed_in(remembered)
        clock.shift(timedelta(days=14))
        assert not _signed_in(remembered)


def test_long_ended_sessions_are_deleted_at_the_next_sign_in(
    app: Flask, users: dict[Role, User], db: Session
) -> None:
    with time_machine.travel(utcnow(), tick=False) as clock:
        _logout(_sign_in(app, users[Role.CS_AGENT].email))
        _sign_in(app, users[Role.CS_AGENT].email)
        clock.shift(timedelta(days=31))
        _sign_in(app, users[Role.CS_AGENT].email)
    assert db.scalar(select(func.count()).select_from(UserSession)) == 1


def test_changing_the_password_ends_every_other_session(
    app: Flask, users: dict[Role, User], db: Session
) -> None:
    email = users[Role.CS_AGENT].email
    laptop = _sign_in(app, email)
    phone = _sign_in(app, email, remember=True)
    token = csrf_token(laptop, "/settings")

    new = {"new": "a-new-password-9", "repeat": "a-new-password-9", "csrf_token": token}
    wrong = laptop.post("/settings/password", data={"current": "not-my-password", **new})
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.get_data(as_text=True)
    mismatch = laptop.post("/settings/password", data={
        "current": PASSWORD, "new": "a-new-password-9", "repeat": "another-one-99", "csrf_token": token})
    assert mismatch.status_code == 422 and "The two new passwords differ." in mismatch.get_data(as_text=True)
    assert _signed_in(phone)

    response = laptop.post("/settings/password", data={"current": PASSWORD, **new})
    assert response.status_code == 302
    assert "Every other session of yours has been signed out." in laptop.get("/settings").get_data(
        as_text=True)
    assert _signed_in(laptop)  # this browser got a fresh session
    assert not _signed_in(phone)
    assert sign_in(_client(app), email).status_code == 401  # the old password is gone
    _sign_in(app, email, password="a-new-password-9")
    assert "user.password_changed" in db.scalars(select(AuditEntry.action)).all()


def _admin_action(admin: FlaskClient, user: User, action: str) -> object:
    token = csrf_token(admin, "/admin/users")
    asked = admin.post(f"/admin/users/{user.id}/{action}", data={"csrf_token": token})
    assert asked.status_code == 200 and 'id="user-action-confirm"' in asked.get_data(as_text=True)
    return admin.post(f"/admin/users/{user.id}/{action}", data={"csrf_token": token, "confirmed": "1"})


def test_admin_signs_a_user_out_everywhere_after_confirming(
    app: Flask, users: dict[Role, User], login: Callable[[Role], FlaskClient], db: Session
) -> None:
    agent = users[Role.CS_AGENT]
    browsers = [_sign_in(app, agent.email), _sign_in(app, agent.email, remember=True)]
    admin = login(Role.ADMIN)
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "Sign out everywhere" in page
    token = csrf_token(admin, "/admin/users")
    asked = admin.post(f"/admin/users/{agent.id}/sign_out", data={"csrf_token": token})
    assert f"Sign {agent.email} out everywhere?" in asked.get_data(as_text=True)
    assert all(_signed_in(browser) for browser in browsers)  # nothing happens before confirming

    done = admin.post(f"/admin/users/{agent.id}/sign_out", data={"csrf_token": token, "confirmed": "1"})
    assert done.status_code == 303
    assert "is signed out everywhere (2 sessions ended)" in admin.get("/admin/users").get_data(as_text=True)
    assert not any(_signed_in(browser) for browser in browsers)
    assert _signed_in(admin)
    assert "user.signed_out_everywhere" in db.scalars(select(AuditEntry.action)).all()


def test_deactivation_ends_every_session_and_reactivation_lets_them_back(
    app: Flask, users: dict[Role, User], login: Callable[[Role], FlaskClient]
) -> None:
    agent = users[Role.CS_AGENT]
    browser = _sign_in(app, agent.email, remember=True)
    admin = login(Role.ADMIN)
    assert _admin_action(admin, agent, "deactivate").status_code == 303
    assert not _signed_in(browser)
    assert sign_in(_client(app), agent.email).status_code == 401
    assert _admin_action(admin, agent, "reactivate").status_code == 303
    assert not _signed_in(browser)  # the old session stays ended
    _sign_in(app, agent.email)


def test_an_admin_cannot_deactivate_themselves(
    users: dict[Role, User], login: Callable[[Role], FlaskClient]
) -> None:
    admin = login(Role.ADMIN)
    me = users[Role.ADMIN]
    response = admin.post(f"/admin/users/{me.id}/deactivate",
                          data={"csrf_token": csrf_token(admin, "/admin/users"), "confirmed": "1"})
    assert response.status_code == 303
    assert "You cannot deactivate yourself." in admin.get("/admin/users").get_data(as_text=True)
    assert _signed_in(admin)


def test_unknown_user_or_action_changes_nothing(
    users: dict[Role, User], login: Callable[[Role], FlaskClient]
) -> None:
    admin = login(Role.ADMIN)
    token = csrf_token(admin, "/admin/users")
    for url in ("/admin/users/999999/sign_out", f"/admin/users/{users[Role.CS_AGENT].id}/delete"):
        response = admin.post(url, data={"csrf_token": token, "confirmed": "1"})
        assert response.status_code == 302
    assert "There is no such user or action." in admin.get("/admin/users").get_data(as_text=True)


def test_settings_list_where_the_user_is_signed_in(app: Flask, users: dict[Role, User]) -> None:
    agent = _sign_in(app, users[Role.CS_AGENT].email)
    html = agent.get("/settings").get_data(as_text=True)
    assert 'id="sessions"' in html and "TestBrowser/1.0" in html
    assert 'id="second-factor"' not in html  # agents have no second factor to manage


def test_two_factor_enrolment_and_sign_in_over_http(
    app: Flask, users: dict[Role, User], login: Callable[[Role], FlaskClient], db: Session
) -> None:
    ops = users[Role.OPS_MANAGER]
    browser = _sign_in(app, ops.email)
    token = csrf_token(browser, "/settings/two-factor")
    setup = browser.post("/settings/two-factor/start", data={"csrf_token": token}).get_data(as_text=True)
    assert 'id="totp-qr"' in setup and "<svg" in setup
    secret = setup.split('<code id="totp-secret">')[1].split("</code>")[0]
    assert len(secret) == 32
    # Stored sealed only: the row holds no plain secret, and the sealed value does not contain it.
    db.expire_all()
    row = db.get(User, ops.id)
    assert row.totp_secret is None and row.totp_sealed and secret not in row.totp_sealed
    assert second_factor.vault_from_config(app.config).open(row.totp_sealed) == secret
    stored = db.execute(text("SELECT totp_secret, totp_sealed FROM users WHERE id = :id"),
                        {"id": ops.id}).one()
    assert stored[0] is None and secret not in stored[1]
    totp = pyotp.TOTP(secret)

    wrong = browser.post("/settings/two-factor/confirm", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 422 and "That code is not right." in wrong.get_data(as_text=True)
    confirmed = browser.post("/settings/two-factor/confirm", data={"csrf_token": token, "code": totp.now()})
    assert confirmed.status_code == 201 and confirmed.headers["Cache-Control"] == "no-store"
    html = confirmed.get_data(as_text=True)
    recovery = html.split('<ul class="recovery-codes">')[1].split("</ul>")[0]
    codes = [part.split("</code>")[0] for part in recovery.split("<code>")[1:]]
    assert len(codes) == 10 and len(set(codes)) == 10

    # Signing in now takes the password, then a code; the password alone gets no session.
    with time_machine.travel(utcnow() + timedelta(seconds=60), tick=False):
        client = _client(app)
        first = client.post("/login", data={"email": ops.email, "password": PASSWORD,
                                            "csrf_token": csrf_token(client)})
        assert first.status_code == 302 and first.location.startswith("/login/code")
        assert not _signed_in(client)
        code_token = csrf_token(client, "/login/code")
        bad = client.post("/login/code", data={"code": "123456", "csrf_token": code_token})
        assert bad.status_code == 401
        code = totp.now()
        assert client.post("/login/code", data={"code": code, "csrf_token": code_token}).status_code == 302
        assert _signed_in(client)

        # The same code cannot be used twice; a recovery code works once.
        again = _client(app)
        again.post("/login", data={"email": ops.email, "password": PASSWORD, "csrf_token": csrf_token(again)})
        replay_token = csrf_token(again, "/login/code")
        assert again.post("/login/code", data={"code": code, "csrf_token": replay_token}).status_code == 401
        recovered = again.post("/login/code", data={"code": codes[0], "csrf_token": replay_token})
        assert recovered.status_code == 302
        assert _signed_in(again)
        third = _client(app)
        third.post("/login", data={"email": ops.email, "password": PASSWORD,
                                   "csrf_token": csrf_token(third)})
        used = third.post("/login/code",
                          data={"code": codes[0], "csrf_token": csrf_token(third, "/login/code")})
        assert used.status_code == 401

    # An admin resets it for someone who lost phone and codes: signed out, password alone again.
    admin = login(Role.ADMIN)
    assert _admin_action(admin, ops, "reset_second_factor").status_code == 303
    assert not _signed_in(client)
    _sign_in(app, ops.email)
    actions = db.scalars(select(AuditEntry.action)).all()
    assert "user.second_factor_enabled" in actions and "user.second_factor_reset" in actions


def test_the_command_line_signs_out_and_resets_the_last_admin(
    app: Flask, users: dict[Role, User], db: Session
) -> None:
    admin = db.get(User, users[Role.ADMIN].id)
    browser = _sign_in(app, admin.email, remember=True)
    second_factor.begin_enrolment(admin, second_factor.vault_from_config(app.config))
    admin.totp_enabled_at = utcnow()
    db.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "sign-out", admin.email.upper(), "--reset-second-factor"])
    assert result.exit_code == 0, result.output
    assert "(1 sessions ended); two-step sign-in is reset." in result.output
    assert not _signed_in(browser)
    db.expire_all()
    assert not second_factor.enabled(db.get(User, admin.id))
    _sign_in(app, admin.email)  # the password alone again
    unknown = runner.invoke(args=["users", "sign-out", "nobody@example.test"])
    assert unknown.exit_code != 0 and "there is no user with e-mail nobody@example.test" in unknown.output


def test_the_code_step_expires_and_needs_the_password_first(app: Flask, users: dict[Role, User]) -> None:
    client = _client(app)
    response = client.get("/login/code")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert "Sign in again" in client.get("/login").get_data(as_text=True)


def test_concurrent_logins_never_fail(database_url: str, tmp_path: Path) -> None:
    """80 people sign in at once (8 accounts, one office address): every one gets a session, none an error,
    none a 429 (with the default throttles)."""
    app = make_test_app(database_url, tmp_path, PROPAGATE_EXCEPTIONS=False)
    session = app.extensions["database"].session()
    emails = [f"agent{n}@example.test" for n in range(8)]
    session.add_all(User(email=email, name=email, role=Role.CS_AGENT, password_hash=hash_password(PASSWORD))
                    for email in emails)
    session.commit()
    statuses: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def note_error(_sender: Flask, exception: BaseException, **_extra: object) -> None:
        with lock:
            errors.append(str(exception))

    def attempt(number: int) -> None:
        client = _client(app)
        token = csrf_token(client)
        response = client.post("/login", data={"email": emails[number % 8], "password": PASSWORD,
                                               "csrf_token": token})
        with lock:
            statuses.append(response.status_code)

    got_request_exception.connect(note_error, app)
    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(80)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got_request_exception.disconnect(note_error, app)
    sessions = session.scalar(select(func.count()).select_from(UserSession))
    session.close()
    app.extensions["database"].engine.dispose()

    assert len(statuses) == 80
    assert set(statuses) <= {302, 500}, sorted(statuses)  # no throttling of good passwords, no 401
    assert statuses.count(302) == sessions  # every sign-in that answered has its own session
    assert errors == []
    assert statuses == [302] * 80


def test_one_code_passes_once_even_from_two_workers(app: Flask, users: dict[Role, User]) -> None:
    """Two workers check the same code for the same user: the conditional update lets one through."""
    database = app.extensions["database"]
    vault = second_factor.vault_from_config(app.config)
    with database.session() as setup:
        ops = setup.get(User, users[Role.OPS_MANAGER].id)
        secret = second_factor.begin_enrolment(ops, vault)
        ops.totp_enabled_at = utcnow()
        setup.commit()
    code = pyotp.TOTP(secret).now()
    first, second = database.session(), database.session()
    try:
        first_user, second_user = first.get(User, ops.id), second.get(User, ops.id)  # both see it unused
        assert second_factor.check_code(first, first_user, vault, code)
        first.commit()
        assert not second_factor.check_code(second, second_user, vault, code)
    finally:
        first.close()
        second.close()


def _enrol(db: Session, user_id: int, vault: Vault | None = None) -> pyotp.TOTP:
    """Turn a user's second factor on directly: sealed by the vault, or without one stored plain (as
    before 0027); the authenticator app that goes with it."""
    user = db.get(User, user_id)
    assert user is not None
    if vault is None:
        secret = user.totp_secret = pyotp.random_base32()
    else:
        secret = second_factor.begin_enrolment(user, vault)
    user.totp_enabled_at = utcnow()
    db.commit()
    return pyotp.TOTP(secret)


def _sign_in_with_code(app: Flask, email: str, code: str) -> tuple[FlaskClient, Any]:
    """The password, then the code: the browser and the answer to the code."""
    client = _client(app)
    first = client.post("/login", data={"email": email, "password": PASSWORD,
                                        "csrf_token": csrf_token(client)})
    assert first.status_code == 302 and first.location.startswith("/login/code")
    answer = client.post("/login/code", data={"code": code, "csrf_token": csrf_token(client, "/login/code")})
    return client, answer


def test_a_plain_secret_from_before_still_works_and_is_sealed_at_the_next_right_code(
    app: Flask, users: dict[Role, User], db: Session
) -> None:
    ops = users[Role.OPS_MANAGER]
    totp = _enrol(db, ops.id)
    _, wrong = _sign_in_with_code(app, ops.email, "000000")
    assert wrong.status_code == 401
    db.expire_all()
    assert db.get(User, ops.id).totp_secret == totp.secret and db.get(User, ops.id).totp_sealed is None

    browser, right = _sign_in_with_code(app, ops.email, totp.now())
    assert right.status_code == 302 and _signed_in(browser)
    db.expire_all()
    row = db.get(User, ops.id)
    assert row.totp_secret is None and row.totp_sealed and totp.secret not in row.totp_sealed
    assert second_factor.vault_from_config(app.config).open(row.totp_sealed) == totp.secret
    with time_machine.travel(utcnow() + timedelta(seconds=60), tick=False):
        browser, again = _sign_in_with_code(app, ops.email, totp.now())
        assert again.status_code == 302 and _signed_in(browser)


def test_rotate_keys_re_seals_two_step_secrets_under_the_new_key(
    app: Flask, users: dict[Role, User], db: Session, database_url: str, tmp_path: Path
) -> None:
    ops, admin = users[Role.OPS_MANAGER], users[Role.ADMIN]
    sealed = _enrol(db, ops.id, second_factor.vault_from_config(app.config))
    plain = _enrol(db, admin.id)
    before = db.get(User, ops.id).totp_sealed
    rotating = make_test_app(database_url, tmp_path, SECRET_KEY="new-secret-key",
                             SECRET_KEY_FALLBACKS=[app.config["SECRET_KEY"]])
    # While the old key is a fallback, the secrets sealed under it still open: sign-in goes on.
    _, during = _sign_in_with_code(rotating, ops.email, sealed.now())
    assert during.status_code == 302
    result = rotating.test_cli_runner().invoke(args=["shops", "rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 2 stored values" in result.output
    assert "2 two-step sign-in secrets (1 of them unencrypted until now)" in result.output
    rotating.extensions["database"].engine.dispose()
    db.expire_all()
    ops_row, admin_row = db.get(User, ops.id), db.get(User, admin.id)
    assert ops_row.totp_secret is None and admin_row.totp_secret is None
    assert ops_row.totp_sealed and admin_row.totp_sealed and ops_row.totp_sealed != before
    new_key_only = Vault("new-secret-key", info=second_factor.INFO)
    assert new_key_only.open(ops_row.totp_sealed) == sealed.secret
    assert new_key_only.open(admin_row.totp_sealed) == plain.secret
    with pytest.raises(SecretUnreadable):  # a key of its own: the shop secrets' key does not open it
        Vault("new-secret-key").open(ops_row.totp_sealed)

    # The old key gone from the fallbacks, both still sign in with a code.
    rotated = make_test_app(database_url, tmp_path, SECRET_KEY="new-secret-key")
    with time_machine.travel(utcnow() + timedelta(seconds=60), tick=False):
        for user, totp in ((ops, sealed), (admin, plain)):
            browser, answer = _sign_in_with_code(rotated, user.email, totp.now())
            assert answer.status_code == 302 and _signed_in(browser)
    rotated.extensions["database"].engine.dispose()


def test_a_secret_no_key_opens_is_a_wrong_code_not_an_error(
    app: Flask, users: dict[Role, User], db: Session, database_url: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SECRET_KEY changed without the old one in the fallbacks: codes are refused (and logged), recovery
    codes, enrolling again and an admin's reset still work."""
    ops, admin = users[Role.OPS_MANAGER], users[Role.ADMIN]
    totp = _enrol(db, ops.id, second_factor.vault_from_config(app.config))
    recovery = second_factor.new_recovery_codes(db, db.get(User, ops.id))
    db.commit()
    # The admin has begun enrolling and not confirmed yet.
    second_factor.begin_enrolment(db.get(User, admin.id), second_factor.vault_from_config(app.config))
    db.commit()
    changed = make_test_app(database_url, tmp_path, SECRET_KEY="another-secret-key")

    _, refused = _sign_in_with_code(changed, ops.email, totp.now())
    assert refused.status_code == 401 and "That code is not right." in refused.get_data(as_text=True)
    assert any(record.levelname == "WARNING" and "cannot be decrypted" in record.getMessage()
               and str(ops.id) in record.getMessage() for record in caplog.records)
    browser, recovered = _sign_in_with_code(changed, ops.email, recovery[0])
    assert recovered.status_code == 302 and _signed_in(browser)

    # The unconfirmed secret no key opens is not shown; setting up again gives a new one.
    admin_browser = _sign_in(changed, admin.email)
    page = admin_browser.get("/settings/two-factor")
    assert page.status_code == 200 and 'id="totp-secret"' not in page.get_data(as_text=True)
    token = csrf_token(admin_browser, "/settings/two-factor")
    again = admin_browser.post("/settings/two-factor/start", data={"csrf_token": token})
    assert again.status_code == 200 and 'id="totp-secret"' in again.get_data(as_text=True)

    assert _admin_action(admin_browser, ops, "reset_second_factor").status_code == 303
    _sign_in(changed, ops.email)  # the password alone again
    changed.extensions["database"].engine.dispose()

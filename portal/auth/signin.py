"""Sign-in state in the browser: the Flask session names a server-side session, checked on every request.

Flask's session cookie is signed, not secret, and lives on the client: on its own it cannot be taken
back. So it carries only the random secret of a row in `user_sessions`; signing out, a password change,
deactivation or an admin's "sign out everywhere" revoke rows, and a replayed cookie then finds nothing.
"Keep me signed in" makes the same cookie outlive the browser (up to REMEMBER_DAYS) instead of using
Flask-Login's remember cookie, which held the user id for a year and could not be revoked.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, current_app, request, session
from flask_login import LoginManager, login_user, logout_user
from sqlalchemy.orm import Session

from portal.auth import bookkeeping
from portal.db import db_session
from portal.domain.accounts import sessions
from portal.domain.models import User

SESSION_KEY = "sid"


def policy() -> sessions.SessionPolicy:
    config = current_app.config
    return sessions.SessionPolicy(
        idle=timedelta(hours=config["SESSION_IDLE_HOURS"]), remember=timedelta(days=config["REMEMBER_DAYS"])
    )


def _user_agent() -> str:
    return request.headers.get("User-Agent", "")[: sessions.USER_AGENT_MAX]


def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the user only while the cookie's session is live and theirs."""
    secret = session.get(SESSION_KEY)
    if not user_id.isdigit() or not isinstance(secret, str):
        return None
    # Its own short transaction: touching last_seen_at must not commit the request's pending work.
    with Session(bookkeeping.engine(), expire_on_commit=False) as own:
        row = sessions.find_valid(own, secret, policy())
        own.commit()
    # A cookie copied into another browser is refused, even a remembered one.
    if row is None or row.user_id != int(user_id) or row.user_agent != _user_agent():
        session.pop(SESSION_KEY, None)
        return None
    user = db_session().get(User, row.user_id)
    return user if user is not None and user.active else None


def sign_in(user: User, *, remember: bool) -> None:
    """Start a server-side session for a user who has proved who they are, and commit."""
    dbs = db_session()
    new = sessions.start(dbs, user, policy(), remember=remember, user_agent=_user_agent(),
                         address=request.remote_addr or "")
    dbs.commit()
    session.clear()  # nothing from before sign-in (a fixated session) survives it
    session[SESSION_KEY] = new.secret
    session.permanent = remember
    login_user(user, remember=False)


def current_remembered() -> bool:
    return bool(session.permanent)


def sign_out() -> None:
    """End this browser's session in the database and forget the cookie."""
    secret = session.get(SESSION_KEY)
    if isinstance(secret, str):
        dbs = db_session()
        sessions.revoke(dbs, secret)
        dbs.commit()
    logout_user()
    session.clear()


def init_app(app: Flask, login_manager: LoginManager) -> None:
    bookkeeping.init_app(app)
    app.permanent_session_lifetime = timedelta(days=app.config["REMEMBER_DAYS"])
    login_manager.user_loader(load_user)

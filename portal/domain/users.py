"""Creating users and checking their passwords (argon2)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain import audit, lifecycle
from portal.domain.accounts import second_factor, sessions
from portal.domain.enums import OPEN_STATUSES, Role
from portal.domain.models import Case, User

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8


class UserError(ValueError):
    pass


class WrongPasswordError(UserError):
    pass


class LastAdminError(UserError):
    """The change would leave nobody who can manage users."""


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the hashing cost (the test suite uses a cheap one; production keeps argon2's defaults)."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(session: Session, email: str, name: str, role: Role | str, password: str,
                actor: User | None = None, locale: str | None = None, timezone: str | None = None) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise UserError(f"'{email}' is not an e-mail address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    try:
        role = Role(role)
    except ValueError:
        raise UserError(f"unknown role '{role}'; choose one of {', '.join(r.value for r in Role)}") from None
    if session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise UserError(f"a user with e-mail {email} already exists")
    user = User(email=email, name=name.strip() or email, role=role, password_hash=hash_password(password),
                locale=locale or None, timezone=timezone or None)
    session.add(user)
    session.flush()
    details: dict[str, object] = {"email": email, "role": role.value}
    if locale or timezone:
        details.update(locale=locale or None, timezone=timezone or None)
    audit.record(session, "user.created", "user", user.id, details, actor=actor,
                 actor_label=None if actor else "cli")
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Set a new password after checking the current one; every session of the user ends with it."""
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise WrongPasswordError("the current password is wrong") from None
    if len(new) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if new == current:
        raise UserError("the new password must differ from the current one")
    user.password_hash = hash_password(new)
    ended = sessions.revoke_all(session, user.id)
    audit.record(session, "user.password_changed", "user", user.id, {"sessions_ended": ended}, actor=user)


def _check_admins_left(session: Session, user: User) -> None:
    """Refuse a change that takes `user` out of the active admins when no other active admin remains."""
    if user.role != Role.ADMIN or not user.active:
        return
    others = session.scalar(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN, User.active.is_(True), User.id != user.id))
    if not others:
        raise LastAdminError("at least one active admin must remain")


def set_active(session: Session, user: User, active: bool, actor: User) -> None:
    """Deactivate or reactivate a user; nobody deactivates themselves, nor the last admin.

    Deactivation ends every session of theirs at once and puts their open cases back in the queue,
    unassigned, each with a line on its timeline."""
    if user.id == actor.id and not active:
        raise UserError("you cannot deactivate yourself")
    if user.active == active:
        return
    if not active:
        _check_admins_left(session, user)
    user.active = active
    details: dict[str, object] = {"email": user.email}
    if not active:
        details["sessions_ended"] = sessions.revoke_all(session, user.id)
        details["cases_unassigned"] = unassign_open_cases(session, user, actor)
    audit.record(session, "user.deactivated" if not active else "user.reactivated", "user", user.id, details,
                 actor=actor)


def unassign_open_cases(session: Session, user: User, actor: User) -> int:
    """Put a departing user's open cases back in the queue, unassigned; how many there were."""
    cases = session.scalars(select(Case).where(Case.assignee_id == user.id, Case.status.in_(OPEN_STATUSES))
                            .order_by(Case.id)).all()
    who = lifecycle.Actor.person(actor)
    for case in cases:
        case.assignee = None
        lifecycle.record(session, case, who, "assigned",
                         {"to": None, "from": user.name, "reason": "deactivated"})
    return len(cases)


def change_role(session: Session, user: User, role: Role, actor: User) -> int:
    """Give a user another role; how many of their sessions ended.

    Their sessions end unless the new role is admin (which may do all the old one could), so a page
    open in another browser cannot offer what the user may no longer do."""
    if user.role == role:
        return 0
    if role != Role.ADMIN:
        _check_admins_left(session, user)
    before = user.role
    user.role = role
    ended = sessions.revoke_all(session, user.id) if role != Role.ADMIN else 0
    details = {"email": user.email, "changes": {"role": [before.value, role.value]}, "sessions_ended": ended}
    audit.record(session, "user.role_changed", "user", user.id, details, actor=actor)
    return ended


def update_profile(session: Session, user: User, actor: User, *, name: str, locale: str | None,
                   timezone: str | None) -> dict[str, list[str | None]]:
    """Change a user's name, language and time zone; the changed fields, before and after."""
    wanted = {"name": name.strip() or user.email, "locale": locale or None, "timezone": timezone or None}
    changes: dict[str, list[str | None]] = {}
    for field, value in wanted.items():
        if getattr(user, field) != value:
            changes[field] = [getattr(user, field), value]
            setattr(user, field, value)
    if changes:
        audit.record(session, "user.updated", "user", user.id, {"email": user.email, "changes": changes},
                     actor=actor)
    return changes


def find_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise UserError(f"there is no user with e-mail {email.strip().lower()}")
    return user


def sign_out_everywhere(session: Session, user: User, actor: User | None) -> int:
    """End every session of a user at once (a lost laptop, a shared password); how many were live.

    `actor` None is the command line."""
    ended = sessions.revoke_all(session, user.id)
    audit.record(session, "user.signed_out_everywhere", "user", user.id,
                 {"email": user.email, "sessions_ended": ended}, actor=actor,
                 actor_label=None if actor else "cli")
    return ended


def reset_second_factor(session: Session, user: User, actor: User | None) -> None:
    """Turn off someone's two-step sign-in (lost phone and codes); their sessions end with it."""
    second_factor.turn_off(session, user)
    sessions.revoke_all(session, user.id)
    audit.record(session, "user.second_factor_reset", "user", user.id, {"email": user.email}, actor=actor,
                 actor_label=None if actor else "cli")

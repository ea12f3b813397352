"""The optional second factor: time-based one-time codes (RFC 6238) from an authenticator app.

Admins and ops managers may enrol: a new secret is kept on the user but counts only once a code from
the app has confirmed it. Each accepted code's time step is stored, so a code cannot be used twice.
Ten recovery codes (kept as SHA-256) stand in for a lost phone, each once; an admin can also reset the
second factor of someone who lost both.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portal.domain.enums import Role
from portal.domain.models import RecoveryCode, User
from portal.domain.types import utcnow

ISSUER = "Aftersales Desk"
ROLES = frozenset({Role.ADMIN, Role.OPS_MANAGER})
RECOVERY_CODES = 10
# Codes of the previous and next 30-second step are accepted too: phone clocks drift.
VALID_WINDOW = 1
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def may_enrol(user: User) -> bool:
    return user.role in ROLES


def enabled(user: User) -> bool:
    return user.totp_enabled_at is not None and bool(user.totp_secret)


def begin_enrolment(user: User) -> str:
    """A fresh secret for the user to scan; it replaces an unconfirmed one and counts once confirmed."""
    if enabled(user):
        raise ValueError("the second factor is already on")
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    assert user.totp_secret is not None
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG markup (no script, no external request)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    text = buffer.getvalue().decode("utf-8")
    return text[text.index("<svg"):]


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def check_code(session: Session, user: User, code: str, now: datetime | None = None) -> bool:
    """Whether a six-digit code from the app is right and unused; an accepted code is marked used.

    Marking is a conditional update, so two requests racing with the same code cannot both pass."""
    if not user.totp_secret:
        return False
    code = _normalise(code)
    if len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(user.totp_secret)
    moment = now or utcnow()
    current = totp.timecode(moment)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            claimed = session.execute(
                update(User)
                .where(User.id == user.id,
                       or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                return False  # replayed (or older than a code already used)
            set_committed_value(user, "totp_last_step", step)
            return True
    return False


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode("utf-8")).hexdigest()


def confirm_enrolment(
    session: Session, user: User, code: str, now: datetime | None = None
) -> list[str] | None:
    """Turn the second factor on if the code matches the new secret; the recovery codes, shown once."""
    if enabled(user) or not check_code(session, user, code, now):
        return None
    user.totp_enabled_at = now or utcnow()
    return new_recovery_codes(session, user)


def new_recovery_codes(session: Session, user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones (returned in plain text, kept hashed)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_recovery(code)) for code in codes)
    session.flush()
    return codes


def use_recovery_code(session: Session, user: User, code: str, now: datetime | None = None) -> bool:
    """Whether the code is one of the user's unused recovery codes; it is used up if so."""
    if len(_normalise(code)) != 10:
        return False
    row = session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_recovery(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = now or utcnow()
    return True


def remaining_recovery_codes(session: Session, user: User) -> int:
    return len(session.scalars(
        select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all())


def turn_off(session: Session, user: User) -> None:
    """Remove the second factor (the user's own choice, or an admin's reset)."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))

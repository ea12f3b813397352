"""The optional second factor: time-based one-time codes (RFC 6238) from an authenticator app.

Admins and ops managers may enrol: a new secret is kept on the user but counts only once a code from
the app has confirmed it. Each accepted code's time step is stored, so a code cannot be used twice.
Ten recovery codes (kept as SHA-256) stand in for a lost phone, each once; an admin can also reset the
second factor of someone who lost both.

The secret is stored encrypted (`users.totp_sealed`) by a `Vault` with a key of its own, derived from
SECRET_KEY (and SECRET_KEY_FALLBACKS) for this purpose only; callers build it with `vault_from_config`.
Secrets from before were stored plain (`users.totp_secret`): they still read, and are sealed at the
user's next right code or by `flask --app wsgi shops rotate-keys`. A secret no configured key opens
(SECRET_KEY changed without a fallback) makes every code wrong, with a warning in the log; recovery
codes and an admin's reset still work.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portal.domain.enums import Role
from portal.domain.models import RecoveryCode, User
from portal.domain.shops.secrets import SecretUnreadable, Vault
from portal.domain.types import utcnow

ISSUER = "Aftersales Desk"
ROLES = frozenset({Role.ADMIN, Role.OPS_MANAGER})
RECOVERY_CODES = 10
# Codes of the previous and next 30-second step are accepted too: phone clocks drift.
VALID_WINDOW = 1
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
# Names what the vault's keys are for: they are derived for two-step secrets and open nothing else.
INFO = b"aftersales-desk two-step secrets v1"

log = logging.getLogger(__name__)


def vault_from_config(config: Mapping[str, Any]) -> Vault:
    """The vault for two-step secrets, from SECRET_KEY and SECRET_KEY_FALLBACKS in the config."""
    return Vault.from_config(config, info=INFO)


def may_enrol(user: User) -> bool:
    return user.role in ROLES


def has_secret(user: User) -> bool:
    """Whether a secret is stored (sealed, or plain from before), readable or not."""
    return bool(user.totp_sealed or user.totp_secret)


def enabled(user: User) -> bool:
    return user.totp_enabled_at is not None and has_secret(user)


def secret_of(user: User, vault: Vault) -> str | None:
    """The user's secret: the sealed one if set, else the plain one from before; None if there is none.

    Raises SecretUnreadable when no configured key opens the sealed one."""
    if user.totp_sealed:
        return vault.open(user.totp_sealed)
    return user.totp_secret or None


def _warn_unreadable(user: User) -> None:
    log.warning(
        "The two-step sign-in secret of user id %s cannot be decrypted with SECRET_KEY or "
        "SECRET_KEY_FALLBACKS, so their codes are refused: put the key it was encrypted with back into "
        "SECRET_KEY_FALLBACKS, or they sign in with a recovery code, or an admin resets their two-step "
        "sign-in.", user.id,
    )


def readable_secret(user: User, vault: Vault) -> str | None:
    """Like secret_of, but None (with a warning in the log) when no configured key opens it."""
    try:
        return secret_of(user, vault)
    except SecretUnreadable:
        _warn_unreadable(user)
        return None


def begin_enrolment(user: User, vault: Vault) -> str:
    """A fresh secret for the user to scan; it replaces an unconfirmed one and counts once confirmed.

    Only its sealed form is stored."""
    if enabled(user):
        raise ValueError("the second factor is already on")
    secret = pyotp.random_base32()
    user.totp_sealed = vault.seal(secret)
    user.totp_secret = None
    user.totp_last_step = None
    return secret


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG markup (no script, no external request)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    text = buffer.getvalue().decode("utf-8")
    return text[text.index("<svg"):]


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def check_code(
    session: Session, user: User, vault: Vault, code: str, now: datetime | None = None
) -> bool:
    """Whether a six-digit code from the app is right and unused; an accepted code is marked used.

    Marking is a conditional update, so two requests racing with the same code cannot both pass. A plain
    secret from before is sealed by the same update. A secret no configured key opens fails every code
    (and is logged), so sign-in refuses cleanly and a recovery code can still be used."""
    if not has_secret(user):
        return False
    code = _normalise(code)
    if len(code) != 6 or not code.isdigit():
        return False
    secret = readable_secret(user, vault)
    if secret is None:
        return False
    totp = pyotp.TOTP(secret)
    moment = now or utcnow()
    current = totp.timecode(moment)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            # A secret stored plain goes sealed in the same statement that marks the code used.
            sealing: dict[str, str | None] = (
                {"totp_sealed": vault.seal(secret), "totp_secret": None} if user.totp_secret else {}
            )
            claimed = session.execute(
                update(User)
                .where(User.id == user.id,
                       or_(User.totp_last_step.is_(None), User.totp_last_step < step))
                .values(totp_last_step=step, **sealing)
                .execution_options(synchronize_session=False)
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                return False  # replayed (or older than a code already used)
            set_committed_value(user, "totp_last_step", step)
            for name, value in sealing.items():
                set_committed_value(user, name, value)
            return True
    return False


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode("utf-8")).hexdigest()


def confirm_enrolment(
    session: Session, user: User, vault: Vault, code: str, now: datetime | None = None
) -> list[str] | None:
    """Turn the second factor on if the code matches the new secret; the recovery codes, shown once."""
    if enabled(user) or not check_code(session, user, vault, code, now):
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
    user.totp_sealed = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def reseal_all(session: Session, vault: Vault) -> tuple[int, int]:
    """Re-encrypt every sealed secret under the current key and seal every plain one from before.

    Returns (values re-encrypted, of which were plain until now). Safe while the portal runs: every
    secret reads before and after. Raises SecretUnreadable (naming the user) when no configured key
    opens one; nothing should be committed then."""
    changed = plain = 0
    users = session.scalars(
        select(User)
        .where(or_(User.totp_sealed.is_not(None), User.totp_secret.is_not(None)))
        .order_by(User.id)
        .with_for_update()
    )
    for user in users:
        if user.totp_sealed:
            try:
                user.totp_sealed = vault.rotate(user.totp_sealed)
            except SecretUnreadable:
                raise SecretUnreadable(
                    f"no configured key decrypts the two-step sign-in secret of {user.email}"
                ) from None
        elif user.totp_secret:
            user.totp_sealed = vault.seal(user.totp_secret)
            plain += 1
        else:
            continue
        user.totp_secret = None
        changed += 1
    return changed, plain

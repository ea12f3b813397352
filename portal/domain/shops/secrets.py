"""Shop secrets and tokens encrypted at rest, with keys derived from SECRET_KEY and rotated without downtime.

Each key is HKDF-SHA256 of a secret key (the current SECRET_KEY first, then each of SECRET_KEY_FALLBACKS),
used as a Fernet key. MultiFernet encrypts with the first and decrypts with any, so after SECRET_KEY
changes (the old one moved to SECRET_KEY_FALLBACKS) every stored value still reads, and
`flask --app wsgi shops rotate-keys` re-encrypts them under the new key; then the fallback can go.

The same class keeps other secrets with keys of their own: `info` names the purpose and goes into the
derivation, so a key for shop secrets opens nothing else (two-step sign-in secrets use another).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.models import ShopConnection

# Changing this derives other keys: it names what the keys are for, so they are used for nothing else.
INFO = b"aftersales-desk shop secrets v1"
ENCRYPTED_FIELDS = ("app_secret", "previous_secret", "access_token", "refresh_token")


class SecretUnreadable(Exception):
    """A stored value none of the configured keys decrypts (SECRET_KEY changed without a fallback)."""


def derive_key(secret_key: str | bytes, info: bytes = INFO) -> bytes:
    raw = secret_key.encode() if isinstance(secret_key, str) else secret_key
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw)
    return base64.urlsafe_b64encode(key)


def fallbacks(config: Mapping[str, Any]) -> list[str]:
    value = config.get("SECRET_KEY_FALLBACKS") or []
    if isinstance(value, str):
        value = value.split(",")
    return [str(v).strip() for v in value if str(v).strip()]


class Vault:
    """Encrypts with the current key, decrypts with the current or any previous one.

    `info` names what the keys are for (the shop secrets unless told); vaults with different `info`
    cannot read each other's values.
    """

    def __init__(
        self, secret_key: str | bytes, previous: Iterable[str | bytes] = (), info: bytes = INFO
    ) -> None:
        self._fernet = MultiFernet([Fernet(derive_key(k, info)) for k in (secret_key, *previous)])

    @classmethod
    def from_config(cls, config: Mapping[str, Any], info: bytes = INFO) -> Vault:
        return cls(config["SECRET_KEY"], fallbacks(config), info)

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable("no configured key decrypts this value") from None

    def rotate(self, token: str) -> str:
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable("no configured key decrypts this value") from None


def rotate_all(session: Session, vault: Vault) -> int:
    """Re-encrypt every stored secret and token under the current key; returns how many values changed.

    Safe while the portal runs: a value is readable before and after (both keys are configured).
    """
    changed = 0
    for connection in session.scalars(select(ShopConnection).with_for_update()):
        for name in ENCRYPTED_FIELDS:
            value = getattr(connection, name)
            if value:
                setattr(connection, name, vault.rotate(value))
                changed += 1
    return changed

"""Signed checkpoints of the audit log: the Ed25519 key, the checkpoint text and its signature.

A checkpoint says "the log had TREE_SIZE entries and this root hash at this time", in the spirit of the
signed tree heads of Certificate Transparency (RFC 6962/9162) and of transparency-log checkpoints. The
signed text is four lines:

    aftersales-desk/audit-log
    <tree size>
    <root hash, base64>
    <time, ISO 8601 UTC with microseconds>

Nothing here touches the database: packs are checked with these functions offline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeAlias

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from portal.domain.types import N_

ORIGIN = "aftersales-desk/audit-log"

# What went wrong, as a message marked for translation and its parameters; a parameter may itself be a
# Problem. The command line prints it in English, the portal in the reader's language.
Problem: TypeAlias = tuple[str, dict[str, Any]]


def problem_text(problem: Problem, gettext: Any = None) -> str:
    message, params = problem
    values = {k: problem_text(v, gettext) if isinstance(v, tuple) else v for k, v in params.items()}
    if gettext is not None:
        return str(gettext(message, **values))
    return message % values if values else message


KEY_FILE = "audit_signing_key.pem"


class SigningKeyError(ValueError):
    """A key that cannot be read (wrong format, not Ed25519)."""


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """The key's fingerprint: SHA-256 of its 32 raw bytes, in hex."""
    return hashlib.sha256(_raw_public(key)).hexdigest()


def public_pem(key: Ed25519PublicKey) -> str:
    """The public key as `openssl pkey -pubout` writes it."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_private_key(text: str) -> Ed25519PrivateKey:
    """AUDIT_SIGNING_KEY: a PEM private key (`openssl genpkey -algorithm ed25519`), or its 32-byte seed
    in base64 or hex."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError) as error:
            raise SigningKeyError(
                f"the audit signing key is not a readable PEM private key: {error}"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError("the audit signing key must be an Ed25519 key")
        return key
    seed = _seed(text)
    if seed is None or len(seed) != 32:
        raise SigningKeyError(
            "the audit signing key must be an Ed25519 PEM private key or a 32-byte seed in base64 or hex"
        )
    return Ed25519PrivateKey.from_private_bytes(seed)


def _seed(text: str) -> bytes | None:
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        padded = text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4)
        return base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError):
        return None


def load_public_key(data: bytes | str) -> Ed25519PublicKey:
    """A PEM public key as `openssl pkey -pubout` writes it."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    try:
        key = serialization.load_pem_public_key(raw.strip())
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise SigningKeyError(f"not a PEM public key: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("the public key is not an Ed25519 key")
    return key


def generated_key_text(instance_path: Path) -> str:
    """The instance's signing key, created on first use like the secret key; never committed.

    Created atomically (written aside, then linked into place), so processes starting together all end
    up with the same key.
    """
    key_file = instance_path / KEY_FILE
    if not key_file.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        scratch = instance_path / f".{KEY_FILE}.{os.getpid()}"
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, pem)
        finally:
            os.close(fd)
        try:
            os.link(scratch, key_file)
        except FileExistsError:
            pass  # another process won the race; everyone uses its key
        finally:
            scratch.unlink(missing_ok=True)
    return key_file.read_text()


def timestamp_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def checkpoint_body(tree_size: int, root_hash: bytes, timestamp: datetime) -> bytes:
    return (
        f"{ORIGIN}\n{tree_size}\n{base64.b64encode(root_hash).decode('ascii')}\n{timestamp_text(timestamp)}\n"
    ).encode("ascii")


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: bytes
    timestamp: datetime
    key_id: str
    signature: bytes

    def body(self) -> bytes:
        return checkpoint_body(self.tree_size, self.root_hash, self.timestamp)

    def verify(self, key: Ed25519PublicKey) -> Problem | None:
        """None when the signature holds under `key`; otherwise what is wrong."""
        expected = key_id(key)
        if self.key_id != expected:
            return (
                N_(
                    "The checkpoint was signed with another key (%(found)s…), not the one it is checked "
                    "against (%(expected)s…)."
                ),
                {"found": self.key_id[:16], "expected": expected[:16]},
            )
        try:
            key.verify(self.signature, self.body())
        except InvalidSignature:
            return N_("The checkpoint's signature does not hold: it was forged or changed."), {}
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": ORIGIN,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": timestamp_text(self.timestamp),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        """Raises ValueError when the data is not a well-formed checkpoint."""
        if not isinstance(data, dict):
            raise ValueError("the checkpoint is not an object")
        if data.get("origin") != ORIGIN:
            raise ValueError(f"the checkpoint is not of {ORIGIN}")
        size, root, stamp = data.get("tree_size"), data.get("root_hash"), data.get("timestamp")
        kid, signature = data.get("key_id"), data.get("signature")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("the checkpoint's tree size is not a number")
        if not (isinstance(root, str) and isinstance(stamp, str) and isinstance(kid, str)
                and isinstance(signature, str)):
            raise ValueError("the checkpoint lacks its root hash, time, key or signature")
        try:
            root_hash = bytes.fromhex(root)
            moment = datetime.fromisoformat(stamp)
            sig = base64.b64decode(signature, validate=True)
        except (ValueError, binascii.Error):
            raise ValueError("the checkpoint's root hash, time or signature is malformed") from None
        if len(root_hash) != 32 or moment.tzinfo is None:
            raise ValueError("the checkpoint's root hash or time is malformed")
        return cls(size, root_hash, moment, kid, sig)


class Signer:
    """Signs checkpoints with the portal's private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def sign(self, tree_size: int, root_hash: bytes, timestamp: datetime) -> Checkpoint:
        signature = self._key.sign(checkpoint_body(tree_size, root_hash, timestamp))
        return Checkpoint(tree_size, root_hash, timestamp, self.key_id, signature)

    def public_pem(self) -> str:
        return public_pem(self.public_key)


@lru_cache(maxsize=8)
def signer_from_text(text: str) -> Signer:
    return Signer(load_private_key(text))

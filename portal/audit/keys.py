"""The app's audit signing key (AUDIT_SIGNING_KEY, or the one generated into instance/)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import current_app

from portal.domain.audit_signing import Signer, signer_from_text


def signer(config: Mapping[str, Any] | None = None) -> Signer:
    return signer_from_text((config or current_app.config)["AUDIT_SIGNING_KEY"])


def public_key(config: Mapping[str, Any] | None = None) -> Ed25519PublicKey:
    return signer(config).public_key

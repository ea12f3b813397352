"""Carrier tracking in the common status model: verifying and normalising AfterShip and 17TRACK webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from portal.domain.enums import TrackingStatus

# AfterShip's `tag` (and checkpoint tag) → the common model. "Pending" means the carrier has not
# said anything yet; it is closest to "info received".
AFTERSHIP_TAGS: dict[str, TrackingStatus] = {
    "Pending": TrackingStatus.INFO_RECEIVED,
    "InfoReceived": TrackingStatus.INFO_RECEIVED,
    "InTransit": TrackingStatus.IN_TRANSIT,
    "OutForDelivery": TrackingStatus.OUT_FOR_DELIVERY,
    "AttemptFail": TrackingStatus.ATTEMPT_FAIL,
    "Delivered": TrackingStatus.DELIVERED,
    "AvailableForPickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "Exception": TrackingStatus.EXCEPTION,
    "Expired": TrackingStatus.EXPIRED,
}

# 17TRACK's main status (and event `stage`) → the common model. "NotFound" carries no information.
SEVENTEENTRACK_STATUSES: dict[str, TrackingStatus] = {
    "InfoReceived": TrackingStatus.INFO_RECEIVED,
    "InTransit": TrackingStatus.IN_TRANSIT,
    "OutForDelivery": TrackingStatus.OUT_FOR_DELIVERY,
    "DeliveryFailure": TrackingStatus.ATTEMPT_FAIL,
    "Delivered": TrackingStatus.DELIVERED,
    "AvailableForPickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "Exception": TrackingStatus.EXCEPTION,
    "Expired": TrackingStatus.EXPIRED,
}


class PayloadError(ValueError):
    """A signed payload the portal cannot read (it is answered 400 and nothing changes)."""


@dataclass(frozen=True)
class Checkpoint:
    status: TrackingStatus
    occurred_at: datetime
    description: str
    location: str | None = None


@dataclass(frozen=True)
class ProofOfDelivery:
    signed_by: str | None = None
    photo_url: str | None = None


@dataclass(frozen=True)
class TrackingUpdate:
    """One provider notification in the common model: the parcel's current status and its checkpoints."""

    provider: str
    carrier: str
    tracking_number: str
    status: TrackingStatus | None
    checkpoints: list[Checkpoint] = field(default_factory=list)
    proof: ProofOfDelivery | None = None


# --- signatures ---------------------------------------------------------------------------------


def aftership_signature(body: bytes, secret: str) -> str:
    """AfterShip's scheme: header `aftership-hmac-sha256` = base64(HMAC-SHA256(raw body, webhook secret))."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def seventeentrack_signature(body: bytes, key: str) -> str:
    """17TRACK's webhook v2 scheme: header `sign` = hex(SHA-256(raw body + "/" + API key))."""
    return hashlib.sha256(body + b"/" + key.encode("utf-8")).hexdigest()


def verify(expected: str, given: str | None) -> bool:
    """Compare in constant time; an unset secret or a missing header never verifies."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode("ascii"), given.strip().encode("ascii", "replace"))


def verify_aftership(body: bytes, header: str | None, secret: str) -> bool:
    return bool(secret) and verify(aftership_signature(body, secret), header)


def verify_seventeentrack(body: bytes, header: str | None, key: str) -> bool:
    # 17TRACK sends lower-case hex; accept either case.
    return bool(key) and verify(seventeentrack_signature(body, key), (header or "").lower())


# --- normalising --------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from a payload as aware UTC; one without an offset is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        raise PayloadError(f"the time {text[:40]!r} is out of range") from None
    if not EARLIEST <= parsed <= LATEST:
        raise PayloadError(f"the time {text[:40]!r} is out of range")
    return parsed


# Tracking events before parcels were tracked online, or centuries ahead, are a sender's bug.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _list(value: Any, where: str) -> list[Any]:
    """A list from a payload; absent is empty, anything else (a number, an object) is refused."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where} must be a list")
    return value


def _text(value: Any, limit: int) -> str:
    return str(value).strip()[:limit] if value not in (None, "") else ""


def _location(*parts: Any) -> str | None:
    text = ", ".join(str(p).strip() for p in parts if isinstance(p, str) and p.strip())
    return text[:120] or None


def _proof(raw: Any, signed_by: Any = None) -> ProofOfDelivery | None:
    photo = None
    if isinstance(raw, dict):
        signed_by = raw.get("signed_by") or raw.get("signature_name") or signed_by
        photo = raw.get("photo_url") or raw.get("image_url")
    signed = _text(signed_by, 120) or None
    photo_url = _text(photo, 1000) or None
    if photo_url and not photo_url.lower().startswith(("https://", "http://")):
        photo_url = None
    return ProofOfDelivery(signed, photo_url) if signed or photo_url else None


def parse_aftership(payload: Any) -> TrackingUpdate | None:
    """An AfterShip tracking webhook (event tracking_update, the tracking under `msg`); None otherwise.

    Proof of delivery: `msg.signed_by`, and `msg.proof_of_delivery` {signed_by, photo_url} where the
    carrier gives a photo.
    """
    if not isinstance(payload, dict):
        raise PayloadError("the body is not a JSON object")
    msg = payload.get("msg")
    if payload.get("event") not in (None, "tracking_update") or not isinstance(msg, dict):
        return None
    number = _text(msg.get("tracking_number"), 64)
    if not number:
        raise PayloadError("msg.tracking_number is missing")
    carrier = _text(msg.get("slug"), 40) or "unknown"
    checkpoints = []
    for raw in _list(msg.get("checkpoints"), "msg.checkpoints"):
        if not isinstance(raw, dict):
            continue
        status = AFTERSHIP_TAGS.get(str(raw.get("tag")))
        when = parse_time(raw.get("checkpoint_time")) or parse_time(raw.get("created_at"))
        if status is None or when is None:
            continue
        location = raw.get("location") if isinstance(raw.get("location"), str) else None
        checkpoints.append(
            Checkpoint(
                status,
                when,
                _text(raw.get("message"), 300) or status.value,
                _location(location) or _location(raw.get("city"), raw.get("state"), raw.get("country_iso3")),
            )
        )
    return TrackingUpdate(
        "aftership",
        carrier,
        number,
        AFTERSHIP_TAGS.get(str(msg.get("tag"))),
        checkpoints,
        _proof(msg.get("proof_of_delivery"), msg.get("signed_by")),
    )


def parse_seventeentrack(payload: Any) -> TrackingUpdate | None:
    """A 17TRACK v2 webhook (`event` TRACKING_UPDATED, the parcel under `data`); None for other events.

    Checkpoints are the events of every provider in `data.track_info.tracking.providers`; the
    carrier is the first provider's name (17TRACK numbers carriers, `data.carrier`, otherwise).
    """
    if not isinstance(payload, dict):
        raise PayloadError("the body is not a JSON object")
    data = payload.get("data")
    if payload.get("event") != "TRACKING_UPDATED" or not isinstance(data, dict):
        return None
    number = _text(data.get("number"), 64)
    if not number:
        raise PayloadError("data.number is missing")
    raw_info = data.get("track_info")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    raw_latest = info.get("latest_status")
    latest: dict[str, Any] = raw_latest if isinstance(raw_latest, dict) else {}
    providers = _list(
        info["tracking"].get("providers") if isinstance(info.get("tracking"), dict) else None,
        "data.track_info.tracking.providers",
    )
    carrier = ""
    checkpoints = []
    for provider in providers:
        if not isinstance(provider, dict):
            continue
        name = (
            (provider.get("provider") or {}).get("name")
            if isinstance(provider.get("provider"), dict)
            else None
        )
        carrier = carrier or _text(name, 40)
        for raw in _list(provider.get("events"), "data.track_info.tracking.providers[].events"):
            if not isinstance(raw, dict):
                continue
            status = SEVENTEENTRACK_STATUSES.get(str(raw.get("stage") or "")) or SEVENTEENTRACK_STATUSES.get(
                str(raw.get("sub_status") or "").split("_")[0]
            )
            when = parse_time(raw.get("time_utc")) or parse_time(raw.get("time_iso"))
            if status is None or when is None:
                continue
            checkpoints.append(
                Checkpoint(
                    status,
                    when,
                    _text(raw.get("description"), 300) or status.value,
                    _location(raw.get("location")),
                )
            )
    return TrackingUpdate(
        "17track",
        carrier or _text(data.get("carrier"), 40) or "unknown",
        number,
        SEVENTEENTRACK_STATUSES.get(str(latest.get("status"))),
        checkpoints,
        _proof(data.get("proof_of_delivery")),
    )

"""Length limits of every free-text field people and systems write into a case, with a clear error each."""

from __future__ import annotations

from dataclasses import dataclass

from portal.domain.lifecycle import N_, LifecycleError


@dataclass(frozen=True)
class TextLimit:
    limit: int
    message: str  # marked for translation; takes %(length)s and %(limit)s


# Column sizes where the column has one; otherwise what a person can still read on one screen.
LIMITS: dict[str, TextLimit] = {
    "reason": TextLimit(200, N_("The reason is %(length)s characters long; at most %(limit)s are allowed.")),
    "note": TextLimit(4000, N_("The note is %(length)s characters long; at most %(limit)s are allowed.")),
    "carrier": TextLimit(
        40, N_("The carrier name is %(length)s characters long; at most %(limit)s are allowed.")
    ),
    "tracking": TextLimit(
        64, N_("The tracking number is %(length)s characters long; at most %(limit)s are allowed.")
    ),
    "inspection_notes": TextLimit(
        2000, N_("The inspection notes are %(length)s characters long; at most %(limit)s are allowed.")
    ),
    "inspector": TextLimit(
        120, N_("The inspector's name is %(length)s characters long; at most %(limit)s are allowed.")
    ),
    "dispute_note": TextLimit(
        4000, N_("The answer to the dispute is %(length)s characters long; at most %(limit)s are allowed.")
    ),
    "caption": TextLimit(
        300, N_("The caption is %(length)s characters long; at most %(limit)s are allowed.")
    ),
    "tag": TextLimit(40, N_("The tag is %(length)s characters long; at most %(limit)s are allowed.")),
    "queue": TextLimit(
        40, N_("The queue name is %(length)s characters long; at most %(limit)s are allowed.")
    ),
}


def bounded(field: str, text: str | None) -> str:
    """`text` stripped, or LifecycleError naming the field when it is longer than the field allows."""
    value = (text or "").strip()
    rule = LIMITS[field]
    if len(value) > rule.limit:
        raise LifecycleError(rule.message, length=f"{len(value):,}", limit=f"{rule.limit:,}")
    return value

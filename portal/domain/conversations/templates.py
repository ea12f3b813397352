"""Message templates that never lie: placeholders checked on save, facts checked on use.

A template is a text with `{placeholder}` fields, one per purpose and buyer language. The shipped
default lives in the `buyer` gettext catalogues; an ops manager's saved version overrides it. A
template is offered for a case only when the case's state makes it true (no "refund initiated"
without a refund), and it renders only when every fact it names is known for the case.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.conversations.texts import LANGUAGES, buyer_language, buyer_text, translate
from portal.domain.enums import (
    CaseStatus,
    CaseType,
    InspectionResult,
    RefundKind,
    ReturnStatus,
)
from portal.domain.lifecycle import N_
from portal.domain.models import Case, MessageTemplateVersion, User
from portal.domain.types import utcnow

MAX_BODY = 4000
MAX_SUBJECT = 200
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"[a-z_]{1,40}")

# Context handed to a render by the operation that queues the message (a reason, an evidence kind).
Extra = dict[str, str]


class TemplateError(Exception):
    """A template cannot be saved or sent; `message` is a sentence with `params`, translated by the caller."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class MissingFacts(TemplateError):
    def __init__(self, purpose: str, facts: list[str]) -> None:
        super().__init__(
            N_("This message needs %(facts)s, which this case does not have yet."),
            facts=", ".join("{" + f + "}" for f in facts),
        )
        self.purpose = purpose
        self.facts = facts


class NotTrue(TemplateError):
    def __init__(self, purpose: str) -> None:
        super().__init__(
            N_("The message “%(purpose)s” does not fit this case as it is now."), purpose=purpose
        )
        self.purpose = purpose


@dataclass(frozen=True)
class Problem:
    """Something wrong with a template text, at a character offset, with a suggestion when there is one."""

    offset: int
    message: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    purpose: str
    language: str
    subject: str
    body: str


# ---- the facts a template may name -----------------------------------------------------------------

Resolver = Callable[[Case, str, Extra], str | None]


def _latest_return(case: Case):  # type: ignore[no-untyped-def]
    return case.returns[-1] if case.returns else None


def _money(amount: Decimal, currency: str, language: str) -> str:
    return format_currency(amount, currency, locale=language if language != "zh" else "zh_Hans_CN")


def _date(when: datetime | None, case: Case, language: str) -> str | None:
    if when is None:
        return None
    local = when.astimezone(ZoneInfo(case.buyer.timezone or "UTC"))
    return format_date(local, "long", locale=language if language != "zh" else "zh_Hans_CN")


def _address(case: Case, language: str, extra: Extra) -> str | None:
    ret = _latest_return(case)
    if ret is None:
        return None
    a = ret.address
    city = " ".join(part for part in (a.city, a.region or "", a.postcode) if part)
    return "\n".join([a.recipient, f"RMA {ret.rma_number}", a.street, city, a.country, a.phone])


def _refund(case: Case, coupon: bool) -> Any:
    wanted = [r for r in case.refunds if (r.kind == RefundKind.COUPON) == coupon]
    return wanted[-1] if wanted else None


def _refund_amount(case: Case, language: str, extra: Extra) -> str | None:
    refund = _refund(case, coupon=False)
    return _money(refund.amount, refund.currency, language) if refund else None


def _coupon_amount(case: Case, language: str, extra: Extra) -> str | None:
    coupon = _refund(case, coupon=True)
    return _money(coupon.amount, coupon.currency, language) if coupon else None


def _tracking(case: Case, language: str, extra: Extra) -> str | None:
    if extra.get("tracking"):
        return extra["tracking"]
    for exchange in reversed(case.exchanges):
        shipment = exchange.shipment
        if shipment is not None and shipment.tracking_number:
            return f"{shipment.carrier} {shipment.tracking_number}".strip()
    return None


def _last_event(case: Case, kind: str, key: str) -> str | None:
    for event in reversed(case.events):
        if event.kind == kind and event.data.get(key):
            return str(event.data[key])
    return None


EVIDENCE_WORDS = {
    "photo": buyer_text("a photo"),
    "video": buyer_text("a video"),
    "document": buyer_text("a document"),
}


def _evidence(case: Case, language: str, extra: Extra) -> str | None:
    kind = extra.get("evidence") or _last_event(case, "evidence_requested", "kind")
    if kind not in EVIDENCE_WORDS:
        return None
    return translate(EVIDENCE_WORDS[kind], language)


def _payer(case: Case, language: str, extra: Extra) -> str | None:
    ret = _latest_return(case)
    if ret is None:
        return None
    if ret.label_sha256:
        return translate(buyer_text("The postage is prepaid: you pay nothing to send the parcel."), language)
    if case.order.return_insurance:
        return translate(
            buyer_text("Your order's return-shipping insurance covers the postage of this return."), language
        )
    if ret.shipping_payer.value == "seller":
        return translate(buyer_text("We pay for return shipping."), language)
    return translate(buyer_text("You pay for return shipping."), language)


def _ship_by(case: Case, language: str, extra: Extra) -> str | None:
    ret = _latest_return(case)
    return _date(ret.ship_by, case, language) if ret else None


def _rma(case: Case, language: str, extra: Extra) -> str | None:
    ret = _latest_return(case)
    return ret.rma_number if ret else None


def _carriers(case: Case, language: str, extra: Extra) -> str | None:
    ret = _latest_return(case)
    if ret is None or not ret.address.carriers:
        return None
    return ", ".join(c.strip() for c in ret.address.carriers.split(",") if c.strip())


def _reason(case: Case, language: str, extra: Extra) -> str | None:
    return extra.get("reason") or _last_event(case, "rejected", "reason")


# Every placeholder, what it says (for the editor) and how it is found for a case.
FACTS: dict[str, tuple[str, Callable[[Case, str, Extra], str | None]]] = {
    "buyer": ("the buyer's name", lambda c, lang, x: c.buyer.display_name or None),
    "order": ("the order number", lambda c, lang, x: c.order.external_order_id),
    "case": ("the case number", lambda c, lang, x: c.number),
    "shop": ("the shop's name", lambda c, lang, x: c.order.market.shop.name if c.order.market else None),
    "rma": ("the return's RMA number", _rma),
    "ship_by": ("the date to ship the return by", _ship_by),
    "carriers": ("the tracked carriers the buyer may use", _carriers),
    "address": ("the return address", _address),
    "payer": ("who pays return shipping", _payer),
    "refund_amount": ("the amount of the latest refund", _refund_amount),
    "coupon_amount": ("the amount of the latest coupon", _coupon_amount),
    "tracking": ("the replacement's carrier and tracking number", _tracking),
    "reason": ("the reason the request was declined", _reason),
    "evidence": ("what the buyer is asked to send", _evidence),
}


# ---- purposes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purpose:
    name: str
    subject: str
    body: str
    # The case's state that makes this message true; facts it names are checked on top.
    applies: Callable[[Case], bool] = lambda case: True


def _return_in(*statuses: ReturnStatus) -> Callable[[Case], bool]:
    return lambda case: bool(case.returns) and case.returns[-1].status in statuses


def _inspection_passed(case: Case) -> bool:
    return bool(case.inspections) and case.inspections[-1].result == InspectionResult.PASS


PURPOSES: dict[str, Purpose] = {
    p.name: p
    for p in (
        Purpose(
            "return_approved",
            buyer_text("Your return for order {order} is approved"),
            buyer_text(
                "Hi {buyer}, your return for order {order} is approved. Your RMA number is {rma}. Please "
                "ship the item by {ship_by} with a tracked carrier ({carriers}) to:\n{address}\nKeep your "
                "receipt and tracking number. {payer}"
            ),
            _return_in(ReturnStatus.APPROVED, ReturnStatus.LABEL_ISSUED),
        ),
        Purpose(
            "return_label",
            buyer_text("Your prepaid return label for {rma}"),
            buyer_text(
                "Hi {buyer}, here is the prepaid label for your return {rma}. It is the last page of the "
                "attached return instructions: print it, stick it on the parcel and ship the parcel by "
                "{ship_by}. {payer}"
            ),
            lambda case: bool(case.returns)
            and case.returns[-1].status == ReturnStatus.LABEL_ISSUED
            and bool(case.returns[-1].label_sha256),
        ),
        Purpose(
            "return_received",
            buyer_text("We have received your return {rma}"),
            buyer_text(
                "Hi {buyer}, we have received your return {rma}. We will inspect it and let you know shortly."
            ),
            _return_in(ReturnStatus.RECEIVED),
        ),
        Purpose(
            "inspection_passed",
            buyer_text("Your return {rma} passed inspection"),
            buyer_text("Hi {buyer}, your return {rma} passed inspection."),
            _inspection_passed,
        ),
        Purpose(
            "refund_initiated",
            buyer_text("Your refund for order {order}"),
            buyer_text(
                "Hi {buyer}, we have refunded {refund_amount} for order {order}. It reaches your original "
                "payment method in 3–10 business days."
            ),
            lambda case: _refund(case, coupon=False) is not None,
        ),
        Purpose(
            "coupon_issued",
            buyer_text("A coupon for your trouble with order {order}"),
            buyer_text(
                "Hi {buyer}, sorry for the trouble with order {order}. We have added a coupon of "
                "{coupon_amount} to your account."
            ),
            lambda case: _refund(case, coupon=True) is not None,
        ),
        Purpose(
            "exchange_shipped",
            buyer_text("Your replacement for order {order} is on its way"),
            buyer_text("Hi {buyer}, your replacement for order {order} is on its way: {tracking}."),
            lambda case: any(e.shipment is not None for e in case.exchanges),
        ),
        Purpose(
            "evidence_requested",
            buyer_text("Please send us {evidence} for order {order}"),
            buyer_text(
                "Hi {buyer}, to help us with your request for order {order}, please send us {evidence} "
                "showing the problem."
            ),
            lambda case: case.status not in {CaseStatus.RESOLVED, CaseStatus.REJECTED, CaseStatus.CLOSED},
        ),
        Purpose(
            "request_rejected",
            buyer_text("About your request for order {order}"),
            buyer_text(
                "Hi {buyer}, we are sorry, but we cannot accept your request for order {order}: {reason}"
            ),
            lambda case: case.status == CaseStatus.REJECTED,
        ),
        Purpose(
            "confirm_address",
            buyer_text("Please confirm your address for order {order}"),
            buyer_text(
                "Hi {buyer}, the carrier could not deliver order {order}. Please confirm your address so we "
                "can arrange a new delivery."
            ),
            lambda case: case.type == CaseType.DELIVERY_FAILED,
        ),
        Purpose(
            "tracking_stale",
            buyer_text("Your parcel for order {order}"),
            buyer_text(
                "Hi {buyer}, your parcel for order {order} has not moved for a few days. We are checking "
                "with the carrier and will keep you updated."
            ),
            lambda case: bool(case.order.shipments),
        ),
    )
}
# Older names a policy may use for the same message.
ALIASES = {
    "return_instructions": "return_approved",
    "refund": "refund_initiated",
    "request_evidence": "evidence_requested",
    "rejected": "request_rejected",
}


def resolve_name(name: str) -> str | None:
    name = ALIASES.get(name, name)
    return name if name in PURPOSES else None


def purpose_names() -> list[str]:
    return list(PURPOSES)


# ---- checking a text -------------------------------------------------------------------------------


def placeholders(text: str) -> list[tuple[int, str | None]]:
    """The fields of a text with their offsets; None for a stray brace."""
    found: list[tuple[int, str | None]] = []
    for match in _FIELD.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        found.append((match.start(), match.group(1) if match.group(1) is not None else None))
    return found


def check(text: str, limit: int = MAX_BODY) -> list[Problem]:
    """Every problem of a template text at once: unknown placeholders (with a suggestion), lone braces."""
    problems: list[Problem] = []
    if not text.strip():
        problems.append(Problem(0, N_("The text is empty.")))
    if len(text) > limit:
        problems.append(
            Problem(limit, N_("The text is longer than %(limit)s characters."), {"limit": str(limit)})
        )
    for offset, name in placeholders(text):
        if name is None:
            problems.append(
                Problem(offset, N_("A lone brace: write {{ or }} for a brace the buyer should see."))
            )
            continue
        stripped = name.strip()
        if stripped in FACTS and _NAME.fullmatch(stripped):
            continue
        close = difflib.get_close_matches(stripped.lower(), list(FACTS), n=1, cutoff=0.6)
        if close:
            problems.append(
                Problem(
                    offset,
                    N_("Unknown placeholder {%(name)s}; did you mean {%(suggestion)s}?"),
                    {"name": stripped, "suggestion": close[0]},
                )
            )
        else:
            problems.append(Problem(offset, N_("Unknown placeholder {%(name)s}."), {"name": stripped}))
    return problems


def fill(text: str, values: dict[str, str]) -> str:
    """Replace each `{name}` by its value (values are plain text, never formatted again)."""

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        return values.get(name.strip(), "") if name is not None else token

    return _FIELD.sub(one, text)


# ---- what is in force ------------------------------------------------------------------------------


def current_version(session: Session, purpose: str, language: str) -> MessageTemplateVersion | None:
    return session.scalar(
        select(MessageTemplateVersion)
        .where(MessageTemplateVersion.purpose == purpose, MessageTemplateVersion.language == language)
        .order_by(MessageTemplateVersion.number.desc())
        .limit(1)
    )


def texts(session: Session | None, purpose: str, language: str) -> tuple[str, str, bool]:
    """Subject and body in force for a purpose and language, and whether they are the shipped default."""
    spec = PURPOSES[purpose]
    version = current_version(session, purpose, language) if session is not None else None
    if version is not None and version.body:
        return version.subject or translate(spec.subject, language), version.body, False
    return translate(spec.subject, language), translate(spec.body, language), True


def save(
    session: Session,
    purpose: str,
    language: str,
    subject: str,
    body: str,
    author: User | None,
    comment: str = "",
) -> MessageTemplateVersion:
    """Save a new version (checked first); an empty body goes back to the shipped default."""
    if purpose not in PURPOSES:
        raise TemplateError(N_("There is no message called “%(purpose)s”."), purpose=purpose)
    if language not in LANGUAGES:
        raise TemplateError(N_("Buyers get messages in %(languages)s only."), languages=", ".join(LANGUAGES))
    body = body.replace("\r\n", "\n").strip()
    subject = " ".join(subject.split())
    if body:
        problems = check(body) + check(subject or "x", MAX_SUBJECT)
        if problems:
            first = problems[0]
            raise TemplateError(first.message, **first.params)
    number = (
        session.scalar(
            select(func.max(MessageTemplateVersion.number)).where(
                MessageTemplateVersion.purpose == purpose, MessageTemplateVersion.language == language
            )
        )
        or 0
    ) + 1
    version = MessageTemplateVersion(
        purpose=purpose,
        language=language,
        number=number,
        subject=subject or None,
        body=body or None,
        comment=comment.strip()[:200] or None,
        created_by_id=author.id if author else None,
        created_at=utcnow(),
    )
    session.add(version)
    return version


REPLY_SUBJECT = buyer_text("About your order {order}")


def reply_subject(case: Case, language: str) -> str:
    """The e-mail subject of a free-text reply."""
    return fill(translate(REPLY_SUBJECT, language), {"order": case.order.external_order_id})


def has_unfilled(text: str) -> str | None:
    """A placeholder left in a text about to be sent (`{rma}`), or None."""
    for _, name in placeholders(text):
        if name is not None and name.strip() in FACTS:
            return "{" + name.strip() + "}"
    return None


# ---- using a template on a case ---------------------------------------------------------------------


def offered(session: Session, case: Case) -> list[str]:
    """The purposes whose message is true for this case now and whose facts are all known."""
    found = []
    for name in PURPOSES:
        try:
            render(session, case, name)
        except TemplateError:
            continue
        found.append(name)
    return found


def render(
    session: Session | None,
    case: Case,
    purpose: str,
    extra: Extra | None = None,
    language: str | None = None,
) -> Rendered:
    """The message for this case in the buyer's language; raises when it would be untrue or incomplete."""
    key = resolve_name(purpose)
    if key is None:
        raise TemplateError(N_("There is no message called “%(purpose)s”."), purpose=purpose)
    spec = PURPOSES[key]
    if not spec.applies(case):
        raise NotTrue(key)
    language = buyer_language(language or case.buyer.language)
    subject, body, _ = texts(session, key, language)
    extra = extra or {}
    values: dict[str, str] = {}
    missing: list[str] = []
    for name in _names(subject, body):
        value = FACTS[name][1](case, language, extra) if name in FACTS else None
        if value is None or not str(value).strip():
            missing.append(name)
        else:
            values[name] = str(value)
    if missing:
        raise MissingFacts(key, missing)
    return Rendered(key, language, fill(subject, values)[:MAX_SUBJECT], fill(body, values))


def _names(*texts_: str) -> Iterable[str]:
    seen: dict[str, None] = {}
    for text in texts_:
        for _, name in placeholders(text):
            if name is not None:
                seen.setdefault(name.strip(), None)
    return seen

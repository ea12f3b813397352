"""Seeding a database with the demo shop: users, policies and a month of believable after-sales work."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from portal.demo.case_ctx import Ctx
from portal.demo.case_plan import COVERAGE, plan_cases
from portal.demo.cases import build_cases
from portal.demo.catalog import build_campaigns, build_products, build_shop
from portal.demo.catalog_data import SHOP_EXTERNAL_ID
from portal.demo.decisions import REFUND_ACTIONS
from portal.demo.orders import build_orders
from portal.demo.policies import build_policies
from portal.demo.world import World
from portal.domain import audit, lifecycle
from portal.domain.attachments import AttachmentStore
from portal.domain.enums import (
    OPEN_STATUSES,
    CaseStatus,
    DeadlineClock,
    MessageDirection,
    Role,
    TrackingStatus,
)
from portal.domain.lifecycle import Actor
from portal.domain.models import (
    Base,
    Case,
    CaseEvent,
    DeadlineSetting,
    Macro,
    Message,
    Shop,
    TrackingEvent,
    User,
)
from portal.domain.users import hash_password

DEMO_PASSWORD = "aftersales-demo"
DEMO_USERS: list[tuple[str, str, Role]] = [
    ("ops@demo.test", "Wang Fang", Role.OPS_MANAGER),
    ("agent@demo.test", "Aisyah Rahman", Role.CS_AGENT),
    ("agent2@demo.test", "Tom Whitfield", Role.CS_AGENT),
    ("senior@demo.test", "Priya Nair", Role.CS_AGENT),  # leads the "senior" and "disputes" queues
    ("auditor@demo.test", "Katrin Bauer", Role.AUDITOR),
    ("admin@demo.test", "Demo Admin", Role.ADMIN),
]
# (locale, time zone): the ops manager reads the portal in Chinese; everyone else in the default.
USER_SETTINGS: dict[str, tuple[str | None, str]] = {
    "ops@demo.test": ("zh", "Asia/Shanghai"),
    "agent@demo.test": (None, "Asia/Kuala_Lumpur"),
    "agent2@demo.test": (None, "Europe/London"),
    "senior@demo.test": (None, "Asia/Kuala_Lumpur"),
    "auditor@demo.test": (None, "Europe/Berlin"),
    "admin@demo.test": (None, "UTC"),
}
ORDERS, CASES, BUYERS = 5000, 800, 3400


def is_seeded(session: Session) -> bool:
    """Whether the demo shop is already in the database."""
    return session.scalar(select(Shop.id).where(Shop.external_shop_id == SHOP_EXTERNAL_ID)) is not None


def _users(world: World) -> tuple[dict[str, User], list[User]]:
    """The demo users; an installation that already has one of these addresses keeps its own row."""
    emails = [email for email, _, _ in DEMO_USERS]
    existing = {u.email: u for u in world.session.scalars(select(User).where(User.email.in_(emails)))}
    password_hash = hash_password(DEMO_PASSWORD)
    created = []
    for email, name, role in DEMO_USERS:
        user = existing.get(email)
        if user is None:
            locale, timezone = USER_SETTINGS[email]
            # One hash for all six: they share the demo password, and argon2 is slow on purpose.
            user = User(email=email, name=name, role=role, password_hash=password_hash, locale=locale,
                        timezone=timezone, created_at=world.now - timedelta(days=40))
            created.append(user)
        world.users[email] = user
    world.session.add_all(created)
    world.counts["users"] = len(created)
    return world.users, created


def _next_case_number(session: Session) -> int:
    numbers = session.scalars(select(Case.number).where(Case.number.like("AS-%"))).all()
    taken = [int(m.group(1)) for n in numbers if (m := re.fullmatch(r"AS-(\d+)", n))]
    return max([100000, *taken]) + 1


def _insert_tracking(world: World) -> None:
    """Tracking events in one bulk insert: there are tens of thousands and nothing reads them back here."""
    rows = [{**data, "status": TrackingStatus(data["status"]), "shipment_id": shipment.id}
            for shipment, data in world.tracking]
    if rows:
        # render_nulls keeps rows with and without a location in one batch instead of many small ones.
        world.session.execute(insert(TrackingEvent).execution_options(render_nulls=True), rows)
    world.counts["tracking_events"] += len(rows)
    world.tracking.clear()


def _insert_case_events(world: World) -> None:
    """The timeline lines, and their audit entries as the portal writes them (lifecycle.audit_entry)."""
    # Event data may name a row by the object (a message, a decision): its id exists by now.
    def plain(data: dict[str, Any]) -> dict[str, Any]:
        return {key: cast(Any, value).id if isinstance(value, Base) else value for key, value in data.items()}

    rows = [{**row, "case_id": case.id, "data": plain(row["data"])} for case, row in world.case_events]
    if rows:
        world.session.execute(insert(CaseEvent).execution_options(render_nulls=True), rows)
    people = {user.id: Actor.person(user) for user in world.users.values()}
    numbers = {case.id: case.number for case, _ in world.case_events}
    history = sorted(rows, key=lambda row: row["occurred_at"])
    entries = [
        lifecycle.audit_entry(
            numbers[row["case_id"]],
            people.get(row["actor_id"]) or Actor.system(row["actor_label"]),
            row["kind"],
            row["data"],
            occurred_at=row["occurred_at"],
        )
        for row in history
    ]
    world.counts["audit_entries"] += audit.record_many(world.session, entries)
    world.counts["case_events"] += len(rows)
    world.case_events.clear()


# The agents' one-click answers, as an ops manager would set them up.
DEMO_MACROS = (
    ("Request photos", 'request_evidence "photo"', "Ask for photos of the problem and wait for them"),
    ("Request a video", 'request_evidence "video"', "For high-value items: ask for a video"),
    ("Approve return", "approve_return", "Approve; the buyer gets the RMA and the instructions PDF"),
    ("Coupon 5", "coupon 5", "A small coupon instead of a return"),
)


def _macros(world: World) -> None:
    author, when = world.users["ops@demo.test"], world.now - timedelta(days=30)
    for position, (name, actions, description) in enumerate(DEMO_MACROS):
        world.session.add(Macro(name=name, actions=actions, description=description, position=position,
                                active=True, created_by_id=author.id, created_at=when))


def _unread_replies(built: list[Ctx], now: datetime) -> None:
    """Buyers who wrote in the last days about a case still open: no agent has read it yet."""
    for c in built:
        inbound = [r for r in c.rows if isinstance(r, Message) and r.direction == MessageDirection.INBOUND]
        if inbound:
            c.case.last_buyer_message_at = inbound[-1].created_at
        last = max((r for r in c.rows if isinstance(r, Message)), key=lambda m: m.created_at, default=None)
        if (last is not None and last.direction == MessageDirection.INBOUND
                and c.case.status in OPEN_STATUSES and c.case.status != CaseStatus.AWAITING_BUYER
                and last.created_at >= now - timedelta(days=1)):
            last.seen_at = None
            c.case.unread_messages = 1


def _link(built: list[Ctx]) -> None:
    """Foreign keys the models hold without a relationship, set once the rows they point at have ids."""
    for c in built:
        if c.inspection is not None and c.ret is not None:
            c.inspection.return_id = c.ret.id
        if c.refund is not None and c.decision is not None and c.policy_actions & REFUND_ACTIONS:
            c.refund.decision_id = c.decision.id


def _audit(world: World, created: list[User]) -> None:
    session, ops = world.session, world.users["ops@demo.test"]
    for user in created:
        audit.record(session, "user.created", "user", user.id, {"email": user.email, "role": user.role.value},
                     actor_label="demo-seed")
    for chain in world.policy_history.values():
        for published_at, version, _ in chain:
            details = {"policy": version.policy.name, "number": version.number, "published_at": published_at,
                       "comment": version.comment}
            audit.record(session, "policy.published", "policy_version", version.id, details, actor=ops)
    audit.record(session, "demo.seeded", "shop", world.shop.id if world.shop else "",
                 dict(sorted(world.counts.items())), actor_label="demo-seed")
    world.counts["audit_entries"] += len(created) + sum(len(c) for c in world.policy_history.values()) + 1


def seed_demo(session: Session, store: AttachmentStore, *, scale: float = 1.0, seed: int = 2026,
              now: datetime | None = None) -> dict[str, int]:
    """Idempotent: if is_seeded(session) returns {} and changes nothing. Otherwise creates everything,
    flushes, and returns counts per kind, e.g. {"orders": 5000, "cases": 800, ...}. It does NOT commit;
    the caller commits."""
    if is_seeded(session):
        return {}
    if scale <= 0:
        raise ValueError("scale must be positive")
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    world = World(session, store, random.Random(seed), now, rates={})

    # Autoflush stays off while objects are half built; the flushes below are the batches.
    with session.no_autoflush:
        _, created = _users(world)
        build_shop(world)
        session.flush()  # the shop's id, which products, buyers, orders and cases carry
        build_products(world, scale)
        build_campaigns(world)
        build_policies(world, world.users["ops@demo.test"])
        session.flush()
        # Malaysian requests must be answered within 24 hours, not the usual 48.
        session.add(DeadlineSetting(market_id=world.markets["MY"].id, name="seller_response", hours=24,
                                    clock=DeadlineClock.CALENDAR))

        plans = plan_cases(world.rng, max(len(COVERAGE), round(CASES * scale)))
        needed = Counter(plan.pool for plan in plans)
        n_orders = max(round(ORDERS * scale), 4 * len(plans))
        n_buyers = max(1, round(BUYERS * n_orders / ORDERS))
        pools = build_orders(world, n_orders, n_buyers, min_failed=needed["failed"] + 1,
                             min_lost=needed["lost"] + 1)
        session.flush()
        _insert_tracking(world)

        built = build_cases(world, pools, plans, _next_case_number(session))
        _unread_replies(built, now)
        _macros(world)
        for c in built:
            session.add_all(c.rows)
        session.flush()
        _link(built)
        _insert_tracking(world)
        _insert_case_events(world)
        session.flush()
        _audit(world, created)
    return dict(sorted(world.counts.items()))

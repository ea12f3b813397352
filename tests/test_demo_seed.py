"""The demo seeder: its data is consistent and believable, passes the policy checker, and is written once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

import rules
from portal.db import make_engine
from portal.demo.seed import DEMO_PASSWORD, DEMO_USERS, is_seeded, seed_demo
from portal.domain.attachments import AttachmentStore
from portal.domain.audit_signing import Signer
from portal.domain.audit_tree import sequence, verify_log
from portal.domain.enums import OPEN_STATUSES, CaseStatus, CaseType, PolicyStatus
from portal.domain.facts import case_facts
from portal.domain.models import (
    Attachment,
    AuditEntry,
    Base,
    Buyer,
    Campaign,
    Case,
    CaseEvent,
    CaseItem,
    CaseTag,
    Deadline,
    Decision,
    Dispute,
    EvidenceItem,
    Exchange,
    ExchangeRate,
    Inspection,
    Market,
    Message,
    Order,
    OrderItem,
    Policy,
    PolicyVersion,
    Product,
    Refund,
    ReturnAddress,
    ReturnShipment,
    Shipment,
    Shop,
    TrackingEvent,
    User,
)
from portal.domain.policy_engine import explain_stored
from portal.domain.users import authenticate

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
TABLES: dict[str, type[Any]] = {
    "shops": Shop, "markets": Market, "return_addresses": ReturnAddress, "exchange_rates": ExchangeRate,
    "products": Product, "campaigns": Campaign, "users": User, "policies": Policy,
    "policy_versions": PolicyVersion, "buyers": Buyer, "orders": Order, "order_items": OrderItem,
    "shipments": Shipment, "tracking_events": TrackingEvent, "cases": Case, "case_items": CaseItem,
    "case_tags": CaseTag, "case_events": CaseEvent, "returns": ReturnShipment, "inspections": Inspection,
    "refunds": Refund, "exchanges": Exchange, "disputes": Dispute, "evidence_items": EvidenceItem,
    "attachments": Attachment, "messages": Message, "deadlines": Deadline, "decisions": Decision,
    "audit_entries": AuditEntry,
}


@dataclass
class Seeded:
    engine: Engine
    store: AttachmentStore
    counts: dict[str, int]
    session: Session
    # Case.updated_at as the seeder wrote it; committing may touch it (the deadline index rewrites cases).
    updated_at: dict[int, datetime]


def _fresh(directory: Path) -> tuple[Engine, AttachmentStore]:
    directory.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{directory / 'demo.sqlite'}")
    Base.metadata.create_all(engine)
    return engine, AttachmentStore(directory / "attachments")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    engine, store = _fresh(tmp_path_factory.mktemp("demo"))
    with Session(engine) as session:
        counts = seed_demo(session, store, scale=0.05, now=NOW)
        updated_at = {case.id: case.updated_at for case in session.scalars(select(Case))}
        session.commit()
    with Session(engine) as session:
        yield Seeded(engine, store, counts, session, updated_at)
    engine.dispose()


def _count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_counts_returned_match_the_rows(seeded: Seeded) -> None:
    assert set(seeded.counts) == set(TABLES)
    for kind, model in TABLES.items():
        assert _count(seeded.session, model) == seeded.counts[kind], kind
    assert seeded.counts["orders"] == 250
    assert seeded.counts["cases"] == 40
    assert seeded.counts["products"] >= 10


def test_every_case_type_and_many_statuses(seeded: Seeded) -> None:
    cases = seeded.session.scalars(select(Case)).all()
    assert {c.type for c in cases} == set(CaseType)
    statuses = {c.status for c in cases}
    assert len(statuses) >= 10
    assert statuses & OPEN_STATUSES and statuses - OPEN_STATUSES


def test_tiny_demo_still_shows_every_type_and_status(tmp_path: Path) -> None:
    engine, store = _fresh(tmp_path)
    with Session(engine) as session:
        counts = seed_demo(session, store, scale=0.02, now=NOW)
        cases = session.scalars(select(Case)).all()
    assert counts["orders"] == 100 and counts["products"] >= 10
    assert {c.type for c in cases} == set(CaseType)
    assert {c.status for c in cases} == set(CaseStatus)


def test_case_numbers_follow_opening_order(seeded: Seeded) -> None:
    cases = seeded.session.scalars(select(Case).order_by(Case.opened_at)).all()
    numbers = [int(c.number.removeprefix("AS-")) for c in cases]
    assert numbers == list(range(100001, 100001 + len(cases)))


def test_case_value_is_the_sum_of_its_items(seeded: Seeded) -> None:
    for case in seeded.session.scalars(select(Case)):
        assert case.items
        assert case.value == sum((i.order_item.unit_price * i.quantity for i in case.items), Decimal(0))
        assert case.currency == case.order.currency
        assert case.value == case.value.quantize(Decimal("0.01"))


def test_refunds_never_exceed_the_case_value(seeded: Seeded) -> None:
    refunds = seeded.session.scalars(select(Refund)).all()
    assert refunds
    for refund in refunds:
        assert Decimal(0) < refund.amount <= refund.case.value
        assert refund.currency == refund.case.currency
    for case in seeded.session.scalars(select(Case)):
        assert sum((r.amount for r in case.refunds), Decimal(0)) <= case.value


def test_cases_open_after_the_parcel_arrived_and_close_in_the_past(seeded: Seeded) -> None:
    for case in seeded.session.scalars(select(Case)):
        order = case.order
        if case.type in (CaseType.RETURN_AND_REFUND, CaseType.EXCHANGE, CaseType.REFUND_ONLY):
            assert order.delivered_at is not None and case.opened_at > order.delivered_at
        assert case.opened_at > order.placed_at
        assert case.opened_at <= seeded.updated_at[case.id] <= NOW
        assert (case.resolved_at is None) == (case.status in OPEN_STATUSES)
        assert all(e.occurred_at <= NOW for e in case.events)


def test_timeline_events_point_at_real_rows(seeded: Seeded) -> None:
    events = seeded.session.scalars(select(CaseEvent)).all()
    kinds = {e.kind for e in events}
    assert {"case_opened", "status_changed", "decided", "message_queued", "deadline_set"} <= kinds
    # A message's delivery is recorded on the message itself (channel, state), not as a second event.
    assert "message_sent" not in kinds
    messages = set(seeded.session.scalars(select(Message.id)))
    decisions = set(seeded.session.scalars(select(Decision.id)))
    for event in events:
        json.dumps(event.data)
        if event.kind == "message_sent":
            assert event.data["message_id"] in messages
        if event.kind == "decided":
            assert event.data["decision_id"] in decisions
        if event.kind == "status_changed":
            assert {event.data["from"], event.data["to"]} <= {s.value for s in CaseStatus}


def test_evidence_and_product_pictures_are_stored_and_verify(seeded: Seeded) -> None:
    evidence = seeded.session.scalars(select(EvidenceItem)).all()
    assert {e.kind.value for e in evidence} >= {"photo", "proof_of_delivery"}
    for item in evidence:
        assert seeded.store.verify(item.sha256), item.filename
        assert seeded.store.read(item.sha256).startswith(b"\x89PNG")
    for product in seeded.session.scalars(select(Product)):
        assert product.image_sha256 and seeded.store.verify(product.image_sha256)


def test_messages_speak_the_buyers_language(seeded: Seeded) -> None:
    messages = seeded.session.scalars(select(Message)).all()
    assert {"de", "ms", "zh"} <= {m.language for m in messages}
    for message in messages:
        assert message.language == message.case.buyer.language
    german = [m.body for m in messages if m.language == "de" and m.direction.value == "outbound"]
    assert german and all("Hallo" in body for body in german)


def test_each_market_has_one_default_return_address(seeded: Seeded) -> None:
    markets = seeded.session.scalars(select(Market)).all()
    assert {m.code for m in markets} == {"US", "UK", "DE", "MY"}
    for market in markets:
        defaults = [a for a in market.return_addresses if a.is_default]
        assert len(defaults) == 1 and defaults[0].recipient.endswith(" Returns")
        assert len(market.return_addresses) >= 2


def test_published_policies_pass_the_checker(seeded: Seeded) -> None:
    versions = seeded.session.scalars(select(PolicyVersion)).all()
    published = [v for v in versions if v.status == PolicyStatus.PUBLISHED]
    assert len(published) == 5  # the default and one per market
    for version in versions:
        errors = [d for d in rules.check(version.text) if d.severity == "error"]
        assert errors == [], (version.policy.name, version.number, errors)
    us = next(p for p in seeded.session.scalars(select(Policy)) if p.market and p.market.code == "US")
    history = [(v.number, v.status) for v in us.versions]
    assert history == [(2, PolicyStatus.PUBLISHED), (1, PolicyStatus.ARCHIVED)]


def test_decisions_come_from_the_version_in_force(seeded: Seeded) -> None:
    decisions = seeded.session.scalars(select(Decision)).all()
    assert decisions
    for decision in decisions:
        version = seeded.session.get(PolicyVersion, decision.policy_version_id)
        assert version is not None and version.published_at is not None
        assert version.published_at <= decision.decided_at
        assert version.policy.market_id == decision.case.market_id
        later = [v for v in version.policy.versions
                 if v.published_at and version.published_at < v.published_at <= decision.decided_at]
        assert later == []
        json.dumps(decision.actions)
        json.dumps(decision.explanation)
        assert decision.actions and all({"name", "args"} <= set(a) for a in decision.actions)
        assert decision.automated and decision.event == "case_opened"
        assert isinstance(decision.explanation, dict)
        assert explain_stored(decision, "en") and explain_stored(decision, "zh")


def test_case_facts_describe_a_case_for_the_policy(seeded: Seeded) -> None:
    rates = {r.currency: r.usd_per_unit for r in seeded.session.scalars(select(ExchangeRate))}
    for case in seeded.session.scalars(select(Case)):
        facts = case_facts(case, NOW, rates)
        assert facts["type"] == case.type.value and facts["market"] == case.market.code
        assert ("days_since_delivery" in facts) == (case.order.delivered_at is not None)
        from_ad = case.order.campaign is not None and case.order.channel.value == "ad"
        assert ("campaign" in facts) == from_ad
        assert facts["value_usd"] == (case.value * rates[case.currency]).quantize(Decimal("0.01"))
        json.dumps(facts, default=str)
        rules.compile_policy(seeded.session.scalars(select(PolicyVersion)).first().text).decide(facts)


def test_demo_users_sign_in_with_the_demo_password(seeded: Seeded) -> None:
    for email, _, role in DEMO_USERS:
        user = authenticate(seeded.session, email, DEMO_PASSWORD)
        assert user is not None and user.role == role
    ops = seeded.session.scalar(select(User).where(User.email == "ops@demo.test"))
    assert ops is not None and (ops.locale, ops.timezone) == ("zh", "Asia/Shanghai")


def test_audit_log_is_short_and_sequences_into_a_valid_signed_tree(seeded: Seeded) -> None:
    key = Signer(Ed25519PrivateKey.generate())
    assert sequence(sessionmaker(seeded.engine), key).sequenced == seeded.counts["audit_entries"]
    report = verify_log(seeded.session, key.public_key)
    assert report.ok and report.entries == seeded.counts["audit_entries"]
    actions = seeded.session.scalars(select(AuditEntry.action)).all()
    assert actions.count("user.created") == len(DEMO_USERS) and actions[-1] == "demo.seeded"


def test_all_datetimes_are_aware(seeded: Seeded) -> None:
    for model in TABLES.values():
        columns = [c.key for c in inspect(model).column_attrs
                   if getattr(c.columns[0].type, "python_type", None) is datetime
                   or c.columns[0].type.__class__.__name__ == "UTCDateTime"]
        for row in seeded.session.scalars(select(model).limit(200)):
            for key in columns:
                value = getattr(row, key)
                assert value is None or value.tzinfo is not None, (model.__name__, key)


def test_seeding_twice_changes_nothing(seeded: Seeded) -> None:
    assert is_seeded(seeded.session)
    before = {kind: _count(seeded.session, model) for kind, model in TABLES.items()}
    assert seed_demo(seeded.session, seeded.store, scale=0.05, now=NOW) == {}
    assert {kind: _count(seeded.session, model) for kind, model in TABLES.items()} == before


def test_same_seed_same_demo(tmp_path: Path) -> None:
    def snapshot(directory: Path) -> list[tuple[str, str, str, Decimal]]:
        engine, store = _fresh(directory)
        with Session(engine) as session:
            seed_demo(session, store, scale=0.02, seed=7, now=NOW)
            return [(c.number, c.type.value, c.status.value, c.value)
                    for c in session.scalars(select(Case).order_by(Case.number))]

    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")

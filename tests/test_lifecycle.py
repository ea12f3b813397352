"""The case lifecycle: the policy decides events, operations guard the state, money never goes wrong."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.factories import make_case, publish_policy, shop_with_market

from portal.domain import deadlines, events
from portal.domain import operations as ops
from portal.domain.conversations import outbox
from portal.domain.conversations.channels import Router
from portal.domain.enums import (
    CaseReason,
    CaseStatus,
    CaseType,
    DeadlineKind,
    DeadlineState,
    Disposition,
    InspectionResult,
    MessageStatus,
    RefundKind,
    ReturnStatus,
    ShippingPayer,
)
from portal.domain.lifecycle import Actor, ConflictError, LifecycleError, available, check_version
from portal.domain.models import AuditEntry, Case, Deadline, Message
from portal.domain.types import NO_DEADLINE, utcnow

AGENT = Actor.system("agent@example.test")


@pytest.fixture
def market(db: Session):
    _shop, market = shop_with_market(db)
    publish_policy(db, market=market)
    db.commit()
    return market


def _open(db: Session, market, **kwargs) -> Case:
    case = make_case(db, market, status=CaseStatus.NEW, **kwargs)
    events.open_case(db, case, Actor.system("marketplace"))
    db.commit()
    return case


def test_policy_approves_a_return_and_queues_instructions(db: Session, market) -> None:
    case = _open(db, market, value="40.00", reason=CaseReason.SIZE)
    assert case.status == CaseStatus.RETURN_APPROVED
    ret = case.returns[0]
    assert ret.rma_number.startswith("RMA-US-") and ret.status == ReturnStatus.APPROVED
    assert ret.shipping_payer == ShippingPayer.BUYER and ret.address.recipient == "Testco Returns"
    assert timedelta(days=4, hours=23) < ret.ship_by - ret.approved_at <= timedelta(days=5)
    message = case.messages[0]
    assert message.status == MessageStatus.QUEUED and ret.rma_number in message.body
    assert "Testco Returns" in message.body
    decision = case.decisions[0]
    assert decision.event == "case_opened" and decision.rule_line == 3 and decision.policy_version_id
    assert decision.actions == [{"name": "approve_return", "args": []}]
    assert decision.explanation["parts"][0]["result"] == "true"
    assert any(e.kind == "decided" and e.actor_label.startswith("policy v1 line 3") for e in case.events)


def test_return_to_refund_end_to_end(db: Session, market) -> None:
    case = _open(db, market, value="40.00")
    ops.mark_return_shipped(db, case, AGENT, "UPS", "1ZRETURN")
    events.handle_event(db, case, "return_shipped")
    ops.mark_return_received(db, case, AGENT)
    ops.record_inspection(db, case, AGENT, InspectionResult.PASS, Disposition.RESTOCK, "tags on")
    events.handle_event(db, case, "inspection_done")
    db.commit()
    assert case.status == CaseStatus.REFUND_PENDING
    assert [(r.kind, r.amount) for r in case.refunds] == [(RefundKind.FULL, Decimal("40.00"))]
    assert case.decisions[-1].rule_name == "passed"
    kinds = [e.kind for e in case.events]
    for expected in (
        "case_opened",
        "return_approved",
        "return_shipped",
        "return_received",
        "inspection_done",
        "refund_issued",
    ):
        assert expected in kinds
    ops.confirm_refund(db, case, AGENT)
    assert case.status == CaseStatus.RESOLVED and case.resolved_at is not None


def test_cheap_item_is_refunded_without_return(db: Session, market) -> None:
    case = _open(db, market, value="6.50", type=CaseType.REFUND_ONLY)
    assert case.status == CaseStatus.REFUND_PENDING and not case.returns
    assert case.refunds[0].amount == Decimal("6.50") and case.refunds[0].kind == RefundKind.FULL


def test_partial_refund_by_percent_settles_the_request(db: Session, market) -> None:
    case = _open(db, market, value="55.55", type=CaseType.REFUND_ONLY, reason=CaseReason.DAMAGED)
    assert case.refunds[0].amount == Decimal("11.11") and case.status == CaseStatus.RESOLVED


def test_no_rule_means_a_person_reviews(db: Session, market) -> None:
    case = _open(db, market, value="30", type=CaseType.NOT_RECEIVED, reason=CaseReason.NOT_RECEIVED)
    assert case.status == CaseStatus.IN_REVIEW and case.decisions[0].rule_line == 5  # the else line


def test_without_any_policy_a_person_reviews(db: Session) -> None:
    _shop, market = shop_with_market(db)
    case = _open(db, market, value="30")
    assert case.status == CaseStatus.IN_REVIEW
    assert case.decisions[0].policy_version_id is None and case.decisions[0].explanation == {
        "no_policy": True
    }


@pytest.mark.parametrize(
    "operation", ["mark_return_received", "record_inspection", "confirm_refund", "close"]
)
def test_invalid_transitions_are_refused_and_change_nothing(db: Session, market, operation: str) -> None:
    case = make_case(db, market, status=CaseStatus.NEW)
    db.commit()
    calls = {
        "mark_return_received": lambda: ops.mark_return_received(db, case, AGENT),
        "record_inspection": lambda: ops.record_inspection(
            db, case, AGENT, InspectionResult.PASS, Disposition.RESTOCK
        ),
        "confirm_refund": lambda: ops.confirm_refund(db, case, AGENT),
        "close": lambda: ops.close(db, case, AGENT),
    }
    with pytest.raises(LifecycleError, match="is not possible for a return_and_refund case in status new"):
        calls[operation]()
    assert case.status == CaseStatus.NEW and operation not in available(case)


def test_money_never_goes_wrong(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW, value="50.00", type=CaseType.REFUND_ONLY)
    ops.partial_refund(db, case, AGENT, amount=Decimal("20.00"))
    case.status = CaseStatus.IN_REVIEW
    with pytest.raises(LifecycleError, match="more than the 30.00 USD left"):
        ops.partial_refund(db, case, AGENT, amount=Decimal("30.01"))
    refund = ops.full_refund(db, case, AGENT, "refund")
    assert refund.amount == Decimal("30.00")
    case.status = CaseStatus.IN_REVIEW
    with pytest.raises(LifecycleError, match="already has a full refund"):
        ops.full_refund(db, case, AGENT, "refund")


def test_policy_action_that_the_state_refuses_is_skipped_and_recorded(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.REJECTED, value="5")
    db.commit()
    events.handle_event(db, case, "case_opened")
    skipped = [e for e in case.events if e.kind == "action_skipped"]
    assert skipped and skipped[0].data["action"] == "refund_without_return" and not case.refunds


def test_hold_pauses_automation_and_release_restores(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW, value="40")
    ops.hold(db, case, AGENT)
    assert events.handle_event(db, case, "case_opened") is None and not case.returns
    ops.release(db, case, AGENT)
    assert case.status == CaseStatus.IN_REVIEW and not case.on_hold


def test_version_check_reports_who_changed_the_case(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    db.commit()
    seen = case.version
    ops.add_note(db, case, Actor.system("mei@example.test"), "called the buyer")
    db.commit()
    with pytest.raises(ConflictError) as error:
        check_version(case, seen)
    assert error.value.changed_by == "mei@example.test"


def test_deadline_runs_its_policy_section(app: Flask, db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    db.add(
        Deadline(case=case, name="nudge", kind=DeadlineKind.POLICY, due_at=utcnow() - timedelta(seconds=1))
    )
    db.commit()
    result = deadlines.sweep(app.extensions["database"].sessionmaker, effect=events.deadline_effect)
    assert result.processed == 1
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.decisions[-1].event == "deadline:nudge"
    assert case.messages[-1].template == "tracking_stale"


def test_outbox_sends_each_message_once(app: Flask, db: Session, market) -> None:
    _open(db, market, value="40")
    factory = app.extensions["database"].sessionmaker
    assert outbox.dispatch(factory, Router({})) == 1
    assert outbox.dispatch(factory, Router({})) == 0
    db.expire_all()
    assert db.scalar(select(Message.status)) == MessageStatus.SENT


def test_messages_use_the_buyer_language(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.NEW, value="40")
    case.buyer.language = "de"
    events.open_case(db, case, AGENT)
    assert case.messages[0].language == "de" and "Ihre Rücksendung" in case.messages[0].body


def test_every_change_is_audited(db: Session, market) -> None:
    _open(db, market, value="40")
    assert (
        db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "case.return_approved")
        )
        == 1
    )


def test_firing_a_deadline_keeps_the_case_last_change_time(app: Flask, db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    db.add(Deadline(case=case, name="nudge", kind=DeadlineKind.POLICY, due_at=utcnow() + timedelta(hours=2)))
    db.commit()
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.next_deadline_at != NO_DEADLINE
    before = case.updated_at
    case.deadlines[0].state = DeadlineState.CANCELLED
    db.commit()
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.next_deadline_at == NO_DEADLINE and case.updated_at == before


def test_reopening_clears_the_resolved_time(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW, value="30")
    ops.reject(db, case, AGENT, "Outside the window")
    assert case.resolved_at is not None
    from portal.domain.lifecycle import move

    move(db, case, CaseStatus.DISPUTE_OPEN, AGENT)
    assert case.resolved_at is None

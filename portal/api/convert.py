"""Turning cases, decisions and evidence into the API's response models."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.api import schemas as s
from portal.domain.api_cases import allowed_events
from portal.domain.models import Case, Decision, EvidenceItem, PolicyVersion
from portal.domain.policy_engine import explain_stored
from portal.domain.types import NO_DEADLINE


def _summary_fields(case: Case) -> dict[str, object]:
    return {
        "number": case.number,
        "status": case.status,
        "type": case.type,
        "reason": case.reason,
        "market": case.market.code,
        "order_id": case.order.external_order_id,
        "buyer": case.buyer.pseudonym,
        "queue": case.queue,
        "value": s.Money.of(case.value, case.currency),
        "waiting_for_buyer": case.waiting_for_buyer,
        "on_hold": case.on_hold,
        "escalated": case.escalated,
        "opened_at": case.opened_at,
        "updated_at": case.updated_at,
        "resolved_at": case.resolved_at,
        "next_deadline_at": None if case.next_deadline_at >= NO_DEADLINE else case.next_deadline_at,
        "version": case.version,
    }


def case_summary(case: Case) -> s.CaseSummary:
    return s.CaseSummary.model_validate(_summary_fields(case))


def evidence_out(item: EvidenceItem) -> s.EvidenceOut:
    return s.EvidenceOut(
        id=item.id,
        kind=item.kind,
        source=item.source,
        filename=item.filename,
        caption=item.caption,
        sha256=item.sha256,
        size=item.attachment.size,
        content_type=item.attachment.content_type,
        created_at=item.created_at,
    )


def case_detail(case: Case) -> s.CaseDetail:
    return s.CaseDetail.model_validate(
        {
            **_summary_fields(case),
            "buyer_note": case.buyer_note,
            "items": [
                s.CaseItemOut(
                    sku=ci.order_item.sku,
                    title=ci.order_item.title,
                    quantity=ci.quantity,
                    unit_price=s.Money.of(ci.order_item.unit_price, ci.order_item.currency),
                )
                for ci in case.items
            ],
            "returns": [
                s.ReturnOut(
                    rma_number=r.rma_number,
                    status=r.status,
                    ship_by=r.ship_by,
                    carrier=r.shipment.carrier if r.shipment else None,
                    tracking_number=r.shipment.tracking_number if r.shipment else None,
                    shipped_at=r.shipped_at,
                    received_at=r.received_at,
                )
                for r in case.returns
            ],
            "refunds": [
                s.RefundOut(
                    kind=r.kind,
                    method=r.method,
                    status=r.status,
                    amount=s.Money.of(r.amount, r.currency),
                    created_at=r.created_at,
                )
                for r in case.refunds
            ],
            "deadlines": [
                s.DeadlineOut(name=d.name, kind=d.kind, state=d.state, due_at=d.due_at)
                for d in case.deadlines
            ],
            "evidence": [evidence_out(e) for e in case.evidence],
            "allowed_events": allowed_events(case),
        }
    )


def version_numbers(session: Session, decisions: Iterable[Decision]) -> dict[int, int]:
    ids = {d.policy_version_id for d in decisions if d.policy_version_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(PolicyVersion.id, PolicyVersion.number).where(PolicyVersion.id.in_(ids)))
    return {version_id: number for version_id, number in rows}


def decision_out(decision: Decision, versions: dict[int, int], lang: str) -> s.DecisionOut:
    return s.DecisionOut(
        id=decision.id,
        event=decision.event,
        decided_at=decision.decided_at,
        automated=decision.automated,
        policy_version=versions.get(decision.policy_version_id) if decision.policy_version_id else None,
        rule=s.RuleOut(line=decision.rule_line, name=decision.rule_name) if decision.rule_line else None,
        actions=[s.ActionOut(name=a["name"], args=list(a.get("args", []))) for a in decision.actions],
        explanation=explain_stored(decision, lang),
    )

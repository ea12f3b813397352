"""Replaying recent cases through a draft policy and the published one, to see what would change."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, DateTime, String, exists, func, select, type_coerce
from sqlalchemy.orm import Session

import rules
from portal.domain.backtest import stored_facts
from portal.domain.enums import (
    EVIDENCE_ORIGIN,
    Channel,
    EvidenceKind,
    EvidenceSource,
    PolicyStatus,
    ShipmentKind,
)
from portal.domain.models import (
    Buyer,
    Campaign,
    Case,
    CaseItem,
    Decision,
    EvidenceItem,
    Inspection,
    Market,
    Order,
    OrderItem,
    Policy,
    PolicyVersion,
    ReturnShipment,
    Shipment,
)
from portal.domain.policies import edit_token
from portal.domain.policy_engine import compiled, published_version, usd_rates
from portal.domain.types import utcnow
from rules.decision import Percent, actions_text

CHANGED_CASES_KEPT = 1000
DIMENSIONS = ("event", "market", "category", "reason")
MAX_DAYS = 365
_CENT = Decimal("0.01")
_FULL_REFUNDS = frozenset({"refund_without_return", "refund", "pre_refund"})
Progress = Callable[[int, int | None], None]


class CaseRow(NamedTuple):
    """What the simulation reports about a case besides its facts (a tuple: made 100,000 times)."""

    id: int
    number: str
    market: str
    currency: str
    value: Decimal
    opened_at: datetime


def _days(delta: timedelta) -> int:
    # The same as portal.domain.facts: whole days gone by, never negative (`.days` floors, and a
    # negative age is clamped to zero anyway, so it agrees with int(delta / one day)).
    return delta.days if delta.days > 0 else 0


def _hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600) if delta.days >= 0 else 0


def _raw(column: Any) -> Any:
    # Enum columns read as their stored text: the facts want the text, and skipping the enum objects
    # saves a noticeable share of the time on a hundred thousand rows.
    return type_coerce(column, String())


def _instant(column: Any) -> Any:
    # Plain DateTime skips the aware-UTC conversion of every value: naive UTC on SQLite, aware on
    # PostgreSQL. Only differences between them are used, and those are the same either way.
    return type_coerce(column, DateTime())


def bulk_facts(session: Session, where: Iterable[ColumnElement[bool]], now: datetime | None = None,
               rates: dict[str, Decimal] | None = None) -> list[tuple[CaseRow, dict[str, Any]]]:
    """The facts of every case matching `where`, as `case_facts` builds them, in six plain queries.

    Each case is judged as of `now`, or as of its own opening when `now` is None (a replay).
    Loading an object graph per case is far too slow for a hundred thousand cases; columns are not.
    """
    where = list(where)
    rates = usd_rates(session) if rates is None else rates
    connection = session.connection()
    case_ids = select(Case.id).where(*where)
    heads = connection.execute(
        select(Case.id, Case.number, _raw(Case.type), _raw(Case.reason), Case.value, Case.currency,
               _instant(Case.opened_at), Case.order_id, Market.code, _raw(Order.channel),
               _instant(Order.placed_at), _instant(Order.delivered_at), Campaign.external_id,
               _raw(Campaign.channel), Buyer.orders_count, Buyer.returns_90d, _instant(Buyer.first_order_at),
               Order.return_insurance)
        .join(Market, Case.market_id == Market.id).join(Order, Case.order_id == Order.id)
        .join(Buyer, Case.buyer_id == Buyer.id).outerjoin(Campaign, Order.campaign_id == Campaign.id)
        .where(*where).order_by(Case.opened_at, Case.id)).all()
    if not heads:
        return []

    items: dict[int, list[tuple[Decimal, int, str, str, bool]]] = defaultdict(list)
    for case_id, quantity, price, sku, category, customized in connection.execute(
            select(CaseItem.case_id, CaseItem.quantity, OrderItem.unit_price, OrderItem.sku,
                   OrderItem.category, OrderItem.customized)
            .join(OrderItem, CaseItem.order_item_id == OrderItem.id)
            .where(CaseItem.case_id.in_(case_ids)).order_by(CaseItem.case_id, CaseItem.id)):
        items[case_id].append((price, quantity, sku, category, customized))
    # Ordered by id, so the last row written for a key is the latest, as in `case_facts`.
    tracking = {order_id: status for order_id, status in connection.execute(
        select(Shipment.order_id, _raw(Shipment.status))
        .where(Shipment.kind == ShipmentKind.OUTBOUND,
               Shipment.order_id.in_(select(Case.order_id).where(*where)))
        .order_by(Shipment.order_id, Shipment.id))}
    returns = {row[0]: row[1:] for row in connection.execute(
        select(ReturnShipment.case_id, _raw(ReturnShipment.status), _instant(ReturnShipment.shipped_at),
               _instant(ReturnShipment.received_at))
        .where(ReturnShipment.case_id.in_(case_ids)).order_by(ReturnShipment.case_id, ReturnShipment.id))}
    inspections = {case_id: result for case_id, result in connection.execute(
        select(Inspection.case_id, _raw(Inspection.result)).where(Inspection.case_id.in_(case_ids))
        .order_by(Inspection.case_id, Inspection.id))}
    evidence: dict[int, dict[str, int]] = {}
    for case_id, kind, count in connection.execute(
            select(EvidenceItem.case_id, _raw(EvidenceItem.kind), func.count())
            .where(EvidenceItem.case_id.in_(case_ids), EvidenceItem.source == EvidenceSource.BUYER,
                   EvidenceItem.kind.in_([EvidenceKind.PHOTO, EvidenceKind.VIDEO]))
            .group_by(EvidenceItem.case_id, EvidenceItem.kind)):
        counts = evidence.setdefault(case_id, {"photos": 0, "videos": 0})
        counts["photos" if kind == EvidenceKind.PHOTO.value else "videos"] = count
    # Whose the newest evidence of each case is (`evidence.from`), as case_facts reads it.
    newest = (select(func.max(EvidenceItem.id)).where(EvidenceItem.case_id.in_(case_ids))
              .group_by(EvidenceItem.case_id))
    origins = {
        case_id: EVIDENCE_ORIGIN[EvidenceSource(source)]
        for case_id, source in connection.execute(
            select(EvidenceItem.case_id, _raw(EvidenceItem.source)).where(EvidenceItem.id.in_(newest))
        )
    }

    naive = bool(heads) and heads[0][6].tzinfo is None
    fixed_now = now.astimezone(UTC).replace(tzinfo=None) if now is not None and naive else now
    usd_values: dict[tuple[Decimal, str], Decimal] = {}
    ad = Channel.AD.value
    out = []
    for (case_id, number, type_, reason, value, currency, opened_at, order_id, market, channel, placed_at,
         delivered_at, campaign_id, campaign_channel, orders_count, returns_90d, first_order_at,
         return_insurance) in heads:
        at = opened_at if fixed_now is None else fixed_now
        facts: dict[str, Any] = {
            "type": type_, "reason": reason, "value": value, "currency": currency,
            "market": market, "channel": channel, "days_since_order": _days(at - placed_at),
            "hours_open": _hours(at - opened_at),
        }
        rate = rates.get(currency)
        if rate is not None and value is not None:
            # Prices repeat a great deal, and quantize is the slowest step of the loop.
            key = (value, currency)
            usd = usd_values.get(key)
            if usd is None:
                usd = usd_values[key] = (value * rate).quantize(_CENT, rounding=ROUND_HALF_UP)
            facts["value_usd"] = usd
        lines = items.get(case_id)
        if lines:
            main = max(lines, key=lambda line: line[0] * line[1]) if len(lines) > 1 else lines[0]
            facts["sku"], facts["category"] = main[2], main[3]
            facts["item"] = {"customized": any(line[4] for line in lines),
                             "quantity": sum(line[1] for line in lines)}
        if campaign_id is not None and campaign_channel == ad:
            facts["campaign"] = campaign_id
        if delivered_at is not None and delivered_at <= at:
            facts["days_since_delivery"] = _days(at - delivered_at)
        if return_insurance is not None:
            facts["return_insurance"] = bool(return_insurance)
        buyer: dict[str, Any] = {"orders": orders_count, "returns_90d": returns_90d}
        if first_order_at is not None:
            buyer["first_order"] = orders_count <= 1 or placed_at <= first_order_at
        facts["buyer"] = buyer
        status = tracking.get(order_id)
        if status is not None:
            facts["tracking"] = {"status": status}
        ret = returns.get(case_id)
        if ret is not None:
            return_facts: dict[str, Any] = {"status": ret[0]}
            if ret[1] is not None:
                return_facts["days_in_transit"] = _days((ret[2] or at) - ret[1])
            facts["return"] = return_facts
        result = inspections.get(case_id)
        if result is not None:
            facts["inspection"] = {"result": result}
        media = evidence.get(case_id)
        facts["evidence"] = dict(media) if media is not None else {"photos": 0, "videos": 0}
        if case_id in origins:
            facts["evidence"]["from"] = origins[case_id]
        opened = opened_at.replace(tzinfo=UTC) if naive else opened_at.astimezone(UTC)
        out.append((CaseRow(case_id, number, market, currency, value, opened), facts))
    return out


def _as_instant(value: Any) -> datetime:
    """A driver's raw timestamp (text on SQLite, a datetime on PostgreSQL) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stored_decisions(session: Session, where: Iterable[ColumnElement[bool]]
                     ) -> list[tuple[CaseRow, str, dict[str, Any]]]:
    """Every automated decision on the cases matching `where` that kept its facts, oldest case first:
    (the case, the event, the facts it was decided on), in one query."""
    # Value and time come raw from the driver and are converted once per case, not per row and column.
    rows = session.connection().execute(
        select(Case.id, Case.number, Market.code, Case.currency, _raw(Case.value), _raw(Case.opened_at),
               Decision.event, Decision.facts)
        .join(Case, Decision.case_id == Case.id).join(Market, Case.market_id == Market.id)
        .where(*where, Decision.automated.is_(True), Decision.facts.is_not(None))
        .order_by(Case.opened_at, Case.id, Decision.id)).all()
    decode = stored_facts.decode
    out = []
    case: CaseRow | None = None
    for case_id, number, market, currency, value, opened_at, event, facts in rows:
        if case is None or case.id != case_id:
            amount = value if isinstance(value, Decimal) else Decimal(str(value)).quantize(_CENT)
            case = CaseRow(case_id, number, market, currency, amount, _as_instant(opened_at))
        out.append((case, event, decode(facts)))
    return out


def without_stored_opening() -> ColumnElement[bool]:
    """Cases whose `case_opened` decision did not keep its facts (decided before facts were kept)."""
    return ~exists().where(Decision.case_id == Case.id, Decision.event == "case_opened",
                           Decision.automated.is_(True), Decision.facts.is_not(None))


@dataclass(frozen=True, slots=True)
class _Payout:
    """What a list of actions pays, as a function of the case value."""

    full: int
    shares: Decimal
    amounts: Decimal
    coupons: Decimal

    def of(self, value: Decimal) -> Decimal:
        if not (self.full or self.shares or self.amounts or self.coupons):
            return _ZERO
        refund = value * self.full + value * self.shares / 100 + self.amounts
        return (min(refund, value) + self.coupons).quantize(_CENT, rounding=ROUND_HALF_UP)


_ZERO = Decimal("0.00")


def _payout_shape(actions: Iterable[rules.Action]) -> _Payout:
    full, shares, amounts, coupons = 0, Decimal(0), Decimal(0), Decimal(0)
    for action in actions:
        if action.name in _FULL_REFUNDS:
            full += 1
        elif action.name == "partial_refund" and action.args:
            share = action.args[0]
            if isinstance(share, Percent):
                shares += Decimal(share.value)
            else:
                amounts += Decimal(str(share))
        elif action.name == "coupon" and action.args:
            coupons += Decimal(str(action.args[0]))
    return _Payout(full, shares, amounts, coupons)


class _Payouts:
    """What each list of actions pays, worked out once: a policy's decisions reuse its Action objects,
    so the same few lists come back again and again (keyed by identity; both policies outlive this)."""

    def __init__(self) -> None:
        self.shapes: dict[tuple[int, ...], _Payout] = {}

    def of(self, actions: list[rules.Action], value: Decimal) -> Decimal:
        key = tuple(map(id, actions))
        shape = self.shapes.get(key)
        if shape is None:
            shape = self.shapes[key] = _payout_shape(actions)
        return shape.of(value)


def payout(actions: Iterable[rules.Action], value: Decimal) -> Decimal:
    """The money a decision hands out: full refunds count the case value, a partial refund its share or
    amount (never more than the value), and a coupon its amount. Returns and exchanges cost nothing here."""
    return _payout_shape(actions).of(value)


def scope(session: Session, policy: Policy) -> tuple[list[int], PolicyVersion | None]:
    """The markets whose cases this policy would decide, and the version deciding them today."""
    if policy.market_id is not None:
        return [policy.market_id], published_version(session, policy.market_id)
    own = set(session.scalars(select(Policy.market_id).join(PolicyVersion).where(
        Policy.market_id.is_not(None), PolicyVersion.status == PolicyStatus.PUBLISHED)))
    markets = [m for m in session.scalars(select(Market.id)) if m not in own]
    return markets, published_version(session, None)


def _breakdown(dim: int, cases_by: Counter[tuple[str, ...]], changed_by: Counter[tuple[str, ...]],
               delta_by: dict[tuple[tuple[str, ...], str], Decimal]) -> list[dict[str, Any]]:
    """One row per event, market, category or reason (position `dim` of the counted combinations):
    decisions, changed decisions, money difference by currency."""
    cases: Counter[str] = Counter()
    changed: Counter[str] = Counter()
    delta: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for keys, count in cases_by.items():
        cases[keys[dim]] += count
    for keys, count in changed_by.items():
        changed[keys[dim]] += count
    for (keys, currency), amount in delta_by.items():
        delta[(keys[dim], currency)] += amount
    rows = [{"key": key, "cases": count, "changed": changed[key],
             "delta": {currency: str(amount) for (k, currency), amount in sorted(delta.items()) if k == key}}
            for key, count in cases.items()]
    return sorted(rows, key=lambda r: (-r["changed"], -r["cases"], r["key"]))


def _money_map(values: dict[str, Decimal]) -> dict[str, str]:
    return {currency: str(amount) for currency, amount in sorted(values.items())}


def replays(session: Session, markets: list[int], since: datetime, until: datetime
            ) -> list[tuple[CaseRow, str, dict[str, Any]]]:
    """What to replay for the cases opened in the period: every decision that kept its facts, for every
    event, and for cases decided before facts were kept, their opening with facts rebuilt as of then."""
    where = [Case.market_id.in_(markets), Case.opened_at >= since, Case.opened_at < until]
    stored = stored_decisions(session, where)
    # Usually every case kept its opening's facts: then a count says so, and the search for cases that
    # did not (an anti-join over the whole period) is skipped.
    opened = len({row.id for row, event, _facts in stored if event == "case_opened"})
    if opened == session.scalar(select(func.count()).select_from(Case).where(*where)):
        return stored
    rebuilt = [
        (row, "case_opened", facts) for row, facts in bulk_facts(session, [*where, without_stored_opening()])
    ]
    if not rebuilt:
        return stored
    if not stored:
        return rebuilt
    # Oldest case first; a case's opening before its later events (sorted() keeps their order).
    return sorted(rebuilt + stored, key=lambda it: (it[0].opened_at, it[0].id, it[1] != "case_opened"))


def simulate(session: Session, policy: Policy, draft: PolicyVersion, days: int, lang: str = "en",
             until: datetime | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Replay the decisions on cases opened in the last `days` through the draft and the current version.

    Every event is replayed on the facts stored with its decision; a case decided before facts were kept
    is replayed at its opening, with the facts rebuilt as they were then. The result is plain JSON:
    totals, money by currency, what changed into what, breakdowns by event, market, category and
    reason, and the first CHANGED_CASES_KEPT changed decisions with both explanations.
    """
    progress = progress or (lambda done, total: None)
    until = until or utcnow()
    since = until - timedelta(days=days)
    markets, current = scope(session, policy)
    started = time.perf_counter()
    work = replays(session, markets, since, until)
    facts_seconds = time.perf_counter() - started
    total = len(work)
    progress(0, total)

    after_policy = rules.compile_policy(draft.text, examples=False)
    before_policy = compiled(current) if current is not None else None
    manual = [rules.Action("manual_review")]
    payouts = _Payouts()
    money_before: dict[str, Decimal] = defaultdict(Decimal)
    money_after: dict[str, Decimal] = defaultdict(Decimal)
    transitions: Counter[tuple[str, str]] = Counter()
    # Counted once per combination of (event, market, category, reason), split by dimension at the end.
    cases_by: Counter[tuple[str, ...]] = Counter()
    changed_by: Counter[tuple[str, ...]] = Counter()
    delta_by: dict[tuple[tuple[str, ...], str], Decimal] = defaultdict(Decimal)
    changed_cases: list[dict[str, Any]] = []
    changed = 0
    started = time.perf_counter()
    for index, (row, event, facts) in enumerate(work):
        if index % 2000 == 0:
            progress(index, total)
        new = after_policy.decide(facts, event)
        old = before_policy.decide(facts, event) if before_policy is not None else None
        old_actions = old.actions if old is not None else manual
        # The value the decision saw: a case's value may have been corrected since.
        value = facts.get("value")
        if type(value) is not Decimal:
            value = Decimal(value) if type(value) is int else row.value
        paid_before = payouts.of(old_actions, value)
        paid_after = payouts.of(new.actions, value)
        money_before[row.currency] += paid_before
        money_after[row.currency] += paid_after
        keys = (event, row.market, facts.get("category") or "—", facts.get("reason") or "—")
        cases_by[keys] += 1
        if old_actions == new.actions:
            continue
        changed += 1
        changed_by[keys] += 1
        delta_by[(keys, row.currency)] += paid_after - paid_before
        before_text, after_text = actions_text(old_actions), actions_text(new.actions)
        transitions[(before_text, after_text)] += 1
        if len(changed_cases) < CHANGED_CASES_KEPT:
            changed_cases.append({
                "number": row.number, "event": event, "market": row.market, "category": facts.get("category"),
                "reason": facts.get("reason"), "value": str(value), "currency": row.currency,
                "opened_at": row.opened_at.isoformat(),
                "before": before_text, "after": after_text,
                "paid_before": str(paid_before), "paid_after": str(paid_after),
                "before_explanation": old.explain_text(lang) if old is not None else "",
                "after_explanation": new.explain_text(lang),
            })
    decide_seconds = time.perf_counter() - started
    progress(total, total)
    return {
        "policy_id": policy.id, "draft_id": draft.id, "draft_number": draft.number,
        "draft_token": edit_token(draft),
        "current_number": current.number if current is not None else None,
        "current_policy": current.policy.name if current is not None else None,
        "days": days, "since": since.isoformat(), "until": until.isoformat(),
        "total": total, "cases": len({row.id for row, _event, _facts in work}), "changed": changed,
        "money_before": _money_map(money_before), "money_after": _money_map(money_after),
        "money_delta": _money_map({c: money_after[c] - money_before[c] for c in money_before}),
        "transitions": [{"before": b, "after": a, "count": n} for (b, a), n in transitions.most_common(50)],
        "breakdown": {dim: _breakdown(i, cases_by, changed_by, delta_by) for i, dim in enumerate(DIMENSIONS)},
        "changed_cases": changed_cases, "changed_cases_truncated": changed > len(changed_cases),
        "seconds": {"facts": round(facts_seconds, 3), "decide": round(decide_seconds, 3)},
    }

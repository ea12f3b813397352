"""Which policy version decides a case, deciding with it, and recording the decision."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

import rules
from portal.domain import batch
from portal.domain.backtest import stored_facts
from portal.domain.enums import PolicyStatus
from portal.domain.facts import case_facts
from portal.domain.models import Case, Decision, ExchangeRate, Policy, PolicyVersion
from portal.domain.types import utcnow

log = logging.getLogger("portal.policy")


def published_version(session: Session, market_id: int | None) -> PolicyVersion | None:
    """The market's published version, or the shared default's when the market has none."""
    return batch.remembered(session, ("published_version", market_id), lambda: _published(session, market_id))


def _published(session: Session, market_id: int | None) -> PolicyVersion | None:
    for condition in ([Policy.market_id == market_id] if market_id is not None else []) + [
        Policy.market_id.is_(None)
    ]:
        version = session.scalar(
            select(PolicyVersion)
            .join(Policy)
            .where(condition, PolicyVersion.status == PolicyStatus.PUBLISHED)
            .order_by(PolicyVersion.number.desc())
            .limit(1)
        )
        if version is not None:
            return version
    return None


@lru_cache(maxsize=256)
def _compile(version_id: int, text: str) -> rules.CompiledPolicy:
    # Keyed by text as well as id, so an edited draft never reuses a stale compilation.
    return rules.compile_policy(text, examples=False)


def compiled(version: PolicyVersion) -> rules.CompiledPolicy | None:
    """The version compiled; None when it no longer passes today's checker (its cases go to people)."""
    try:
        return _compile(version.id, version.text)
    except rules.PolicyError as error:
        # Published before a limit existed (say `set_deadline "x" 600000 weeks`): deciding with it
        # would fail on every case, so nothing is decided automatically until it is fixed.
        log.error("published policy version %s no longer compiles: %s", version.id, error)
        return None


def usd_rates(session: Session) -> dict[str, Decimal]:
    return batch.remembered(session, "usd_rates", lambda: {
        rate.currency: rate.usd_per_unit for rate in session.scalars(select(ExchangeRate))
    })


def decide(
    session: Session,
    case: Case,
    event: str,
    now: datetime | None = None,
    version: PolicyVersion | None = None,
) -> tuple[rules.Decision | None, PolicyVersion | None]:
    """What the policy decides for `event` on `case`; (None, None) when no policy is published."""
    decision, version, _facts = decide_with_facts(session, case, event, now, version)
    return decision, version


def decide_with_facts(
    session: Session,
    case: Case,
    event: str,
    now: datetime | None = None,
    version: PolicyVersion | None = None,
) -> tuple[rules.Decision | None, PolicyVersion | None, dict[str, Any] | None]:
    """`decide`, and the facts it decided on (None when no policy is published), to store with it."""
    version = version or published_version(session, case.market_id)
    if version is None:
        return None, None, None
    policy = compiled(version)
    if policy is None:
        return None, None, None
    facts = case_facts(case, now or utcnow(), usd_rates(session))
    return policy.decide(facts, event), version, facts


def has_section(session: Session, case: Case, event: str) -> bool:
    """Whether the market's published policy says anything about `event`."""
    version = published_version(session, case.market_id)
    policy = compiled(version) if version is not None else None
    return policy is not None and rules.policy.section_key(event) in policy.sections


def record_decision(
    session: Session,
    case: Case,
    event: str,
    decision: rules.Decision | None,
    version: PolicyVersion | None,
    now: datetime | None = None,
    facts: Mapping[str, Any] | None = None,
) -> Decision:
    """Store what was decided, by which version and rule, and why; manual review when no policy exists.

    With `facts`, the facts it was decided on are stored too, so that a simulation can replay it.
    """
    if decision is None:
        actions: list[dict[str, Any]] = [{"name": "manual_review", "args": []}]
        explanation: dict[str, Any] = {"no_policy": True}
        rule_line = rule_name = None
    else:
        # The JSON form: every amount already a JSON number, every record a fresh object.
        data = decision.to_dict()
        actions = data["actions"]
        explanation = data["explanation"]
        rule_line = decision.rule.line if decision.rule else None
        rule_name = decision.rule.name if decision.rule else None
    row = Decision(
        case_id=case.id,
        event=event,
        policy_version_id=version.id if version else None,
        rule_line=rule_line,
        rule_name=rule_name,
        actions=actions,
        explanation=explanation,
        facts=stored_facts.encode(facts) if facts is not None else None,
        automated=True,
        decided_at=now or utcnow(),
    )
    decision_id = _decision_id(session)
    if decision_id is not None:
        row.id = decision_id
    session.add(row)
    if decision_id is None:
        session.flush()  # for its id, which the timeline line and the policy's actor carry
    return row


ID_BLOCK = 500


def _decision_id(session: Session) -> int | None:
    """Inside a batch on PostgreSQL, an id taken ahead from the decisions' sequence (a block at a time),
    so a decision needs no flush of its own and a batch writes its decisions together; None elsewhere,
    and the flush assigns it. Ids taken and not used are gaps in the sequence, nothing more."""
    if not batch.active(session) or session.get_bind().dialect.name != "postgresql":
        return None
    ids: list[int] = batch.remembered(session, "decision_ids", list)
    if not ids:
        taken = session.scalars(
            text("SELECT nextval(pg_get_serial_sequence('decisions', 'id')) FROM generate_series(1, :n)"),
            {"n": ID_BLOCK},
        )
        ids.extend(sorted(taken, reverse=True))
    return ids.pop()


def explain_stored(row: Decision, lang: str = "en") -> str:
    """The explanation of a stored decision, in English or Chinese."""
    if row.explanation.get("no_policy"):
        return (
            "没有已发布的政策，转人工处理。"
            if lang.startswith("zh")
            else "No policy is published, so a person decides."
        )
    rule = {"line": row.rule_line, "name": row.rule_name} if row.rule_line else None
    stored = rules.Decision.from_dict(
        {"event": row.event, "actions": row.actions, "rule": rule, "explanation": row.explanation}
    )
    try:
        return stored.explain_text(lang)
    except (KeyError, TypeError):
        # Explanations written by an older version of the language may lack a part; show what is known.
        return rules.decision.actions_text(stored.actions)

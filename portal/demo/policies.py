"""The demo shop's after-sales policies, written in the policy language, and their published versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

import rules
from portal.demo.world import World
from portal.domain.enums import PolicyStatus
from portal.domain.models import Policy, PolicyVersion, User


@dataclass(frozen=True)
class Terms:
    """What differs between markets: the window, and amounts in the market's own currency."""

    title: str
    currency: str
    window: int
    no_return_below: str
    video_from: str
    small_flaw_below: str
    fast_refund_below: str
    vip_from: str
    coupon: str


TEMPLATE = """\
# After-sales policy for {where}. Amounts are in {currency}.
policy "{title}"

# Made-to-order pieces (engraving, custom sizes) come back only when we got something wrong.
rule "personalised":
if item.customized and reason in ["size", "color", "changed_mind"] then
  reject "Personalised items cannot be returned"
rule "return window":
if type in ["return_and_refund", "exchange"] and days_since_delivery > {window} then
  reject "Outside the {window}-day return window"
rule "platform dispute": if type == "dispute" then escalate, assign "disputes"

# Parcels that never arrived.
rule "lost in transit":
if type == "not_received" and tracking.status in ["exception", "expired"] then refund
rule "proof of delivery":
if type == "not_received" and tracking.status == "delivered" then assign "logistics"
rule "still travelling":
if type == "not_received" then
  notify "tracking_stale", set_deadline "tracking_check" 5 days, assign "logistics"
rule "failed delivery":
if type == "delivery_failed" then
  notify "confirm_address", set_deadline "redelivery" 12 days, assign "logistics"

# Not worth the postage: the buyer keeps it.
rule "no return needed":
if value < {no_return_below} and type in ["return_and_refund", "refund_only"] then
  refund_without_return
rule "fine jewelry":
if category == "jewelry" and value >= {video_from} and evidence.videos < 1 then
  request_evidence "video", assign "jewelry"
rule "photos first":
if reason in ["damaged", "missing_parts", "wrong_item", "quality"] and evidence.photos < 1 then
  request_evidence "photo"
rule "small flaw":
if type == "refund_only" and reason in ["quality", "missing_parts"] and value < {small_flaw_below} then
  partial_refund 30%
rule "serial returners": if buyer.returns_90d >= 4 then manual_review, assign "senior"
rule "big orders": if value >= {vip_from} then manual_review, assign "senior"
# New buyers from our ads get the benefit of the doubt.
rule "new ad buyers":
if channel == "ad" and buyer.first_order and type in ["return_and_refund", "exchange"] then approve_return
rule "our mistake":
if type == "exchange" and reason in ["damaged", "wrong_item", "not_as_described"] then exchange
rule "easy returns":
if type in ["return_and_refund", "exchange"] and reason in ["size", "color", "changed_mind"] then
  approve_return
else manual_review

on evidence_added:
  if type == "refund_only" and reason in ["quality", "missing_parts"] and value < {small_flaw_below} then
    partial_refund 30%
  if reason in ["damaged", "wrong_item"] and evidence.photos >= 2 then approve_return
  else manual_review

on return_shipped:
  if return.status == "in_transit" then set_deadline "seller_confirm_receipt" 8 days

# Return = refund: trusted buyers get their money on the warehouse's first scan.
on return_received:
  rule "trusted buyer":
  if buyer.returns_90d < 3 and value < {fast_refund_below} then refund
  else hold

on inspection_done:
  if inspection.result == "pass" then refund
  if inspection.result == "missing_parts" then partial_refund 50%, assign "qc"
  else assign "qc"

on delivery_failed:
  if value >= {vip_from} then notify "confirm_address", set_deadline "redelivery" 12 days, assign "senior"
  else notify "confirm_address", set_deadline "redelivery" 12 days

on tracking_stale:
  if tracking.status in ["in_transit", "info_received"] then coupon {coupon}, notify "tracking_stale"

on dispute_opened:
  else escalate, assign "disputes"

on deadline "redelivery":
  if tracking.status == "delivered" then hold
  else refund

example "cheap and unwanted": type = "return_and_refund", reason = "changed_mind",
  value = {cheap_example} -> refund_without_return
example "engraved necklace": type = "return_and_refund", reason = "size",
  item.customized = true -> reject "Personalised items cannot be returned"
"""

MARKET_TERMS: dict[str | None, Terms] = {
    None: Terms("Default after-sales policy", "US dollars", 30, "10", "300", "30", "60", "500", "5"),
    "US": Terms("US returns", "USD", 30, "10", "300", "30", "60", "500", "5"),
    "UK": Terms("UK returns", "GBP", 30, "8", "250", "25", "50", "400", "4"),
    "DE": Terms("Rücksendungen Deutschland", "EUR", 30, "10", "250", "25", "55", "450", "5"),
    "MY": Terms("Pemulangan Malaysia", "MYR", 15, "40", "1200", "120", "250", "2000", "20"),
}
WHERE: dict[str | None, str] = {
    None: "any market without its own policy", "US": "buyers in the United States",
    "UK": "buyers in the United Kingdom", "DE": "buyers in Germany", "MY": "buyers in Malaysia",
}


def policy_text(market: str | None, no_return_below: str | None = None) -> str:
    terms = MARKET_TERMS[market]
    threshold = no_return_below or terms.no_return_below
    fields = terms.__dict__ | {"no_return_below": threshold, "where": WHERE[market],
                               "cheap_example": str(int(threshold) - 3)}
    text = TEMPLATE.format(**fields)
    if market is None:
        # The shared policy cannot know the currency, so its amounts are in dollars.
        text = text.replace("value <", "value_usd <").replace("value >=", "value_usd >=")
        text = text.replace("  value = ", "  value_usd = ")
    return text


def build_policies(world: World, author: User) -> None:
    """A shared default and one policy per market, each with a published version; US also has history."""
    now = world.now
    versions: list[PolicyVersion] = []
    # An installation keeps its own shared default; the demo only adds one where there is none.
    has_default = world.session.scalar(select(Policy.id).where(Policy.market_id.is_(None))) is not None
    codes: list[str | None] = [*([] if has_default else [None]), *world.markets]
    for code in codes:
        market = world.markets[code] if code else None
        name = f"{world.specs[code].name} after-sales policy" if code else "Default after-sales policy"
        policy = Policy(market=market, name=name, created_at=now - timedelta(days=34))
        world.policies[code or "*"] = policy
        # (comment, no-return threshold, days ago it was published)
        history: list[tuple[str, str | None, float]] = [("Initial policy", None, 30)]
        if code == "US":
            history = [("Initial policy", "8", 30), ("Raise the no-return threshold to $10", "10", 12)]
        chain: list[tuple[datetime, PolicyVersion, Any]] = []
        for number, (comment, threshold, days_ago) in enumerate(history, start=1):
            text = policy_text(code, threshold)
            published_at = now - timedelta(days=days_ago, hours=world.rng.uniform(0, 6))
            current = number == len(history)
            version = PolicyVersion(policy=policy, number=number, text=text, comment=comment,
                                    status=PolicyStatus.PUBLISHED if current else PolicyStatus.ARCHIVED,
                                    created_by=author, published_by=author, published_at=published_at,
                                    created_at=published_at - timedelta(hours=world.rng.uniform(1, 30)))
            versions.append(version)
            chain.append((published_at, version, rules.compile_policy(text)))
        world.policy_history[code or "*"] = chain
    world.session.add_all(world.policies.values())
    world.session.add_all(versions)
    world.counts.update(policies=len(world.policies), policy_versions=len(versions))


def version_in_force(world: World, market: str, when: datetime) -> tuple[PolicyVersion, Any] | None:
    """The version that was published for the market at `when`, with its compiled policy."""
    chain = world.policy_history.get(market) or world.policy_history.get("*") or []
    found = None
    for published_at, version, compiled in chain:
        if published_at <= when:
            found = (version, compiled)
    return found

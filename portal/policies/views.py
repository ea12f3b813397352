"""Reading the after-sales policies: every role may read them; ops managers also get the editor."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.access import ALL_ROLES, allow
from portal.db import db_session
from portal.domain import policies as service
from portal.domain.enums import PolicyStatus, PublishRequestStatus, Role
from portal.domain.models import Market, Policy, PolicyVersion, PublishRequest
from portal.rendering import render

bp = Blueprint("policies", __name__, url_prefix="/policies")


def get_policy(session: Session, policy_id: int) -> Policy:
    policy = session.scalar(select(Policy).where(Policy.id == policy_id).options(selectinload(Policy.market)))
    if policy is None:
        abort(404)
    return policy


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return max(1, min(int(raw), 10_000)) if raw.isdigit() else 1


@bp.get("")
@allow(ALL_ROLES)
def index() -> ResponseReturnValue:
    session = db_session()
    policies = session.scalars(
        select(Policy).options(selectinload(Policy.market), selectinload(Policy.versions))
    ).all()
    # The shared default first, then markets by code.
    policies = sorted(policies, key=lambda p: (p.market is not None, p.market.code if p.market else ""))
    covered = {p.market_id for p in policies}
    uncovered = [m for m in session.scalars(select(Market).order_by(Market.code)) if m.id not in covered]
    waiting = set(session.scalars(select(PublishRequest.policy_id).where(
        PublishRequest.status == PublishRequestStatus.PENDING)))
    return render("policies/index.html", policies=policies, uncovered=uncovered, waiting=waiting)


@bp.post("")
@allow(Role.OPS_MANAGER)
def create() -> ResponseReturnValue:
    session = db_session()
    raw = request.form.get("market_id", "")
    market = session.get(Market, int(raw)) if raw.isdigit() else None
    if market is None:
        flash(_("Choose a market to start its policy."), "error")
        return redirect(url_for("policies.index"))
    try:
        policy = service.create_policy(session, market, current_user)
    except service.PolicyChangeError:
        flash(_("This market already has its own policy."), "error")
        return redirect(url_for("policies.index"))
    session.commit()
    flash(_("Started a draft for %(market)s from the shared default. It applies once you publish it.",
            market=market.code), "success")
    return redirect(url_for("policies.edit", policy_id=policy.id))


@bp.get("/<int:policy_id>")
@allow(ALL_ROLES)
def show(policy_id: int) -> ResponseReturnValue:
    session = db_session()
    policy = get_policy(session, policy_id)
    page = _page_arg()
    versions, more = service.history(session, policy.id, page)
    return render("policies/show.html", policy=policy, published=service.published_of(session, policy.id),
                  draft=service.draft_of(session, policy.id), versions=versions, page=page, more=more)


@bp.get("/<int:policy_id>/versions/<int:number>")
@allow(ALL_ROLES)
def version(policy_id: int, number: int) -> ResponseReturnValue:
    session = db_session()
    policy = get_policy(session, policy_id)
    found = session.scalar(select(PolicyVersion).where(
        PolicyVersion.policy_id == policy.id, PolicyVersion.number == number)
        .options(selectinload(PolicyVersion.published_by), selectinload(PolicyVersion.created_by)))
    if found is None:
        abort(404)
    published = service.published_of(session, policy.id)
    return render("policies/version.html", version=found, policy=policy, published=published,
                  versions=service.history(session, policy.id, 1, 200)[0],
                  can_roll_back=found.status == PolicyStatus.ARCHIVED)


@bp.get("/<int:policy_id>/diff")
@allow(ALL_ROLES)
def diff(policy_id: int) -> ResponseReturnValue:
    session = db_session()
    policy = get_policy(session, policy_id)
    versions = service.history(session, policy.id, 1, 500)[0]
    numbers = [v.number for v in versions]
    a_raw, b_raw = request.args.get("a", ""), request.args.get("b", "")
    a = int(a_raw) if a_raw.isdigit() else (numbers[1] if len(numbers) > 1 else None)
    b = int(b_raw) if b_raw.isdigit() else (numbers[0] if numbers else None)
    old = service.version_of(session, policy.id, a) if a is not None else None
    new = service.version_of(session, policy.id, b) if b is not None else None
    lines = service.diff(old.text, new.text) if old is not None and new is not None else None
    missing = [n for n, found in ((a_raw, old), (b_raw, new)) if n and found is None]
    return render("policies/diff.html", policy=policy, versions=versions, old=old, new=new, lines=lines,
                  missing=missing)


from portal.policies import editing as _editing  # noqa: E402, F401  (registers the editing routes)

"""Reading the after-sales policies; every role may read them."""

from __future__ import annotations

from flask import Blueprint, abort
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.access import ALL_ROLES, allow
from portal.db import db_session
from portal.domain.models import Policy, PolicyVersion
from portal.rendering import render

bp = Blueprint("policies", __name__, url_prefix="/policies")


@bp.get("")
@allow(ALL_ROLES)
def index() -> ResponseReturnValue:
    policies = db_session().scalars(
        select(Policy).options(selectinload(Policy.market), selectinload(Policy.versions))
    ).all()
    # The shared default first, then markets by code.
    policies = sorted(policies, key=lambda p: (p.market is not None, p.market.code if p.market else ""))
    return render("policies/index.html", policies=policies)


@bp.get("/<int:policy_id>/versions/<int:number>")
@allow(ALL_ROLES)
def version(policy_id: int, number: int) -> ResponseReturnValue:
    found = db_session().scalar(
        select(PolicyVersion)
        .where(PolicyVersion.policy_id == policy_id, PolicyVersion.number == number)
        .options(selectinload(PolicyVersion.policy).selectinload(Policy.versions))
    )
    if found is None:
        abort(404)
    return render("policies/version.html", version=found, policy=found.policy)

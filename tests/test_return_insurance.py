"""Return-shipping insurance: set by CSV and API intake, read by the policy, shown, claimed on approval."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.api import bearer, make_token
from support.app import csrf_token
from support.factories import make_case, publish_policy, shop_with_market

import rules
from portal.domain import events
from portal.domain import operations as ops
from portal.domain.enums import CaseStatus, Role
from portal.domain.facts import case_facts
from portal.domain.lifecycle import Actor
from portal.domain.models import Case, CaseEvent, ImportBatch, InsuranceClaim, Market, Order
from portal.domain.types import utcnow

INSURED_POLICY = """policy "Insured returns"
rule "insured": if return_insurance then approve_return, assign "insured"
rule "not insured": if return_insurance == false then assign "uninsured"
else assign "unknown"
"""


@pytest.fixture
def market(db: Session) -> Market:
    _shop, market = shop_with_market(db)
    db.commit()
    return market


def _case(db: Session, market: Market, number: str, insured: bool | None, insurer: str | None = None) -> Case:
    case = make_case(db, market, number=number, status=CaseStatus.IN_REVIEW)
    case.order.return_insurance = insured
    case.order.return_insurer = insurer
    db.commit()
    return case


@pytest.mark.parametrize(
    ("insured", "queue", "rule"),
    [(True, "insured", "insured"), (False, "uninsured", "not insured"), (None, "unknown", None)],
)
def test_the_policy_reads_the_fact_and_a_missing_one_is_unknown(
    db: Session, market: Market, insured: bool | None, queue: str, rule: str | None
) -> None:
    case = _case(db, market, "AS-INS1", insured)
    facts = case_facts(case, utcnow(), {})
    assert facts.get("return_insurance") == insured
    if insured is None:
        assert "return_insurance" not in facts  # unknown, never guessed as "not insured"
    decision = rules.compile_policy(INSURED_POLICY).decide(facts)
    assert (decision.rule.name if decision.rule else None) == rule
    assert [a.name for a in decision.actions][-1] == "assign"


def test_a_published_policy_acts_on_the_insurance_fact(db: Session, market: Market) -> None:
    publish_policy(db, INSURED_POLICY, market=market)
    case = _case(db, market, "AS-INS2", True, "Ping An")
    case.status = CaseStatus.NEW
    db.commit()
    events.handle_event(db, case, "case_opened")
    db.commit()
    db.expire_all()
    fresh = db.scalar(select(Case).where(Case.number == "AS-INS2"))
    assert fresh.queue == "insured" and fresh.status == CaseStatus.RETURN_APPROVED
    # Approving the insured return recorded the claim to make.
    claim = db.scalar(select(InsuranceClaim).where(InsuranceClaim.case_id == fresh.id))
    assert claim is not None and (claim.insurer, claim.status) == ("Ping An", "to_claim")


def test_the_language_checker_knows_the_fact() -> None:
    # A true/false fact: compared with text it is a type error, and a misspelling gets the suggestion.
    with pytest.raises(rules.PolicyError) as error:
        rules.compile_policy('if return_insurance == "yes" then refund')
    assert error.value.errors[0].message == "`==` can't compare true or false with text"
    with pytest.raises(rules.PolicyError) as error:
        rules.compile_policy("if return_insurence then refund")
    assert "did you mean `return_insurance`" in error.value.errors[0].message


# ---- intake ----------------------------------------------------------------------------------------


def _import(client: FlaskClient, db: Session, market: Market, text: str) -> str:
    response = client.post(
        "/imports",
        data={
            "csrf_token": csrf_token(client, "/imports"),
            "kind": "orders",
            "market": str(market.id),
            "encoding": "auto",
            "file": (io.BytesIO(text.encode("gb18030")), "orders.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    location = str(response.location)
    batch = db.get(ImportBatch, int(location.rsplit("/", 1)[1]))
    assert batch is not None
    fields = {f"map-{k}": v for k, v in batch.mapping.items()}
    db.expire_all()
    client.post(f"{location}/start", data={"csrf_token": csrf_token(client, location), **fields})
    return location


HEADER = "订单号,创建时间,买家,卖家SKU,数量,单价,退货运费险,保险公司\n"


def test_csv_orders_carry_the_insurance(
    app: Flask, login: Callable[[Role], FlaskClient], db: Session, market: Market
) -> None:
    app.config["JOBS_RUN_INLINE"] = True
    ops_client = login(Role.OPS_MANAGER)
    location = _import(
        ops_client,
        db,
        market,
        HEADER
        + "INS-1,2026-03-01 10:00,lena,SKU-1,1,20.00,是,平安保险\n"
        + "INS-2,2026-03-01 11:00,omar,SKU-2,1,20.00,否,\n"
        + "INS-3,2026-03-01 12:00,kim,SKU-3,1,20.00,,\n",
    )
    page = ops_client.get(location).get_data(as_text=True)
    assert "3 orders created" in page
    orders = {o.external_order_id: o for o in db.scalars(select(Order))}
    assert (orders["INS-1"].return_insurance, orders["INS-1"].return_insurer) == (True, "平安保险")
    assert (orders["INS-2"].return_insurance, orders["INS-2"].return_insurer) == (False, None)
    assert orders["INS-3"].return_insurance is None


def test_csv_insurance_that_is_not_yes_or_no_imports_nothing(
    app: Flask, login: Callable[[Role], FlaskClient], db: Session, market: Market
) -> None:
    app.config["JOBS_RUN_INLINE"] = True
    ops_client = login(Role.OPS_MANAGER)
    location = _import(
        ops_client,
        db,
        market,
        HEADER
        + "INS-4,2026-03-01 10:00,lena,SKU-1,1,20.00,也许,\n"
        + "INS-5,2026-03-01 10:00,omar,SKU-1,1,20.00,否,平安保险\n",
    )
    page = ops_client.get(location).get_data(as_text=True)
    assert "Line 2: Return-shipping insurance “也许” is not yes or no" in page
    assert "Line 3: Insurer is given but the order has no return-shipping insurance" in page
    assert db.scalar(select(Order)) is None


def test_api_case_creation_sets_the_insurance(app: Flask, db: Session, market: Market) -> None:
    publish_policy(db, INSURED_POLICY, market=market)
    origin = make_case(db, market, number="AS-INS3", status=CaseStatus.CLOSED)
    db.commit()
    headers = bearer(make_token(db, Role.CS_AGENT))
    api = app.test_client()
    payload = {"order_id": origin.order.external_order_id, "type": "return_and_refund", "reason": "size"}
    refused = api.post("/api/v1/cases", json={**payload, "return_insurer": ""}, headers=headers)
    assert refused.status_code == 422
    insured = {**payload, "return_insurance": True, "return_insurer": "Ping An"}
    response = api.post("/api/v1/cases", json=insured, headers=headers)
    assert response.status_code == 201, response.get_json()
    db.expire_all()
    order = db.scalar(select(Order).where(Order.external_order_id == origin.order.external_order_id))
    assert order is not None and (order.return_insurance, order.return_insurer) == (True, "Ping An")
    created = db.scalar(select(Case).where(Case.number == response.get_json()["number"]))
    assert created is not None and created.queue == "insured"


# ---- on the case ------------------------------------------------------------------------------------


def test_the_agent_sees_the_insurance_and_the_claim_and_marks_it_made(
    login: Callable[[Role], FlaskClient], db: Session, market: Market
) -> None:
    case = _case(db, market, "AS-INS4", True, "Ping An")
    ops.approve_return(db, case, Actor.system())
    db.commit()
    agent = login(Role.CS_AGENT)
    page = agent.get("/cases/AS-INS4").get_data(as_text=True)
    assert '<dd id="return-insurance">yes · Ping An</dd>' in page
    claim = db.scalar(select(InsuranceClaim))
    assert claim is not None
    assert f'id="insurance-claim-{claim.id}"' in page and "claim the return postage from Ping An" in page
    assert "Insurance claim to make for the postage of return" in page

    db.expire_all()
    fresh = db.scalar(select(Case).where(Case.number == "AS-INS4"))
    url = f"/cases/AS-INS4/insurance-claims/{claim.id}/claimed"
    token = csrf_token(agent, "/cases/AS-INS4")
    assert agent.post(url, data={"version": str(fresh.version)}).status_code == 400  # no CSRF token
    auditor = login(Role.AUDITOR)
    auditor_token = csrf_token(auditor, "/cases/AS-INS4")
    assert auditor.post(url, data={"csrf_token": auditor_token}).status_code == 403
    assert "Mark the claim as made" not in auditor.get("/cases/AS-INS4").get_data(as_text=True)
    response = agent.post(url, data={"csrf_token": token, "version": str(fresh.version)})
    assert response.status_code == 302
    db.expire_all()
    assert db.get(InsuranceClaim, claim.id).status == "claimed"  # type: ignore[union-attr]
    again = agent.post(url, data={"csrf_token": token, "version": str(fresh.version + 1)})
    assert again.status_code in (409, 422)
    kinds = db.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == fresh.id)).all()
    assert kinds.count("insurance_claimed") == 1


def test_an_uninsured_approval_records_no_claim(db: Session, market: Market) -> None:
    for number, insured in (("AS-INS5", False), ("AS-INS6", None)):
        ops.approve_return(db, _case(db, market, number, insured), Actor.system())
    db.commit()
    assert db.scalar(select(InsuranceClaim)) is None

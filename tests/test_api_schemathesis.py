"""Schemathesis reads the API's own OpenAPI document and throws generated requests at the app in-process.

Every response must have a documented status, match its documented schema and never be a 500.
"""

from __future__ import annotations

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy.orm import Session
from support.api import make_token
from support.factories import make_case, publish_policy, shop_with_market

from portal.domain import operations as ops
from portal.domain.enums import CaseStatus, Role
from portal.domain.lifecycle import Actor

# Values that fit the schema may still name what does not exist (an order, a cursor) or carry bytes that
# are no photo; the API answers those with its documented 422, which this one check would count as a failure.
TEST_SETTINGS = settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_api_conforms_to_its_document(app: Flask, db: Session) -> None:
    _shop, market = shop_with_market(db)
    publish_policy(db, market=market)
    case = make_case(db, market, number="AS-100231", status=CaseStatus.IN_REVIEW)
    db.commit()
    ops.approve_return(db, case, Actor.system())
    db.commit()
    headers = {"Authorization": f"Bearer {make_token(db, Role.CS_AGENT)}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6

    # schemathesis' own pytest plugin (schema.parametrize) does not run under pytest 9 yet, so each
    # operation's strategy is driven by Hypothesis directly.
    for operation in operations:

        @TEST_SETTINGS
        @given(operation.as_strategy())
        def check(generated: schemathesis.Case) -> None:
            generated.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        check()

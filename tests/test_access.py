"""Every route, for every role and for an anonymous visitor: who gets in and who does not."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

from portal.domain.attachments import store_attachment
from portal.domain.enums import (
    EvidenceKind,
    EvidenceSource,
    MessageDirection,
    MessageStatus,
    PolicyStatus,
    ReturnStatus,
    Role,
    ShippingPayer,
)
from portal.domain.models import EvidenceItem, Job, Message, Policy, PolicyVersion, Product, ReturnShipment

PUBLIC = "public"
EVERYONE = frozenset(Role)
STAFF = frozenset({Role.OPS_MANAGER, Role.CS_AGENT, Role.ADMIN})
AUDIT_READERS = frozenset({Role.AUDITOR, Role.ADMIN, Role.OPS_MANAGER})

# The expected access of every endpoint. A new route must be added here, or the coverage test fails.
EXPECTED: dict[str, str | frozenset[Role]] = {
    "main.index": PUBLIC,
    "main.healthz": PUBLIC,
    "main.evidence_file": EVERYONE,
    "main.evidence_thumbnail": EVERYONE,
    "main.product_image": EVERYONE,
    "auth.login": PUBLIC,
    "auth.logout": EVERYONE,
    "auth.language": PUBLIC,
    "auth.settings": EVERYONE,
    "cases.queue": EVERYONE,
    "cases.show": EVERYONE,
    "cases.act": STAFF,
    "cases.bulk": STAFF,
    "cases.update": STAFF,
    "cases.reply_template": STAFF,
    "cases.message_attachment": EVERYONE,
    "policies.index": EVERYONE,
    "policies.version": EVERYONE,
    "policies.show": EVERYONE,
    "policies.diff": EVERYONE,
    "policies.create": frozenset({Role.OPS_MANAGER}),
    "policies.edit": frozenset({Role.OPS_MANAGER}),
    "policies.edit_submit": frozenset({Role.OPS_MANAGER}),
    "policies.check": frozenset({Role.OPS_MANAGER}),
    "policies.try_it": frozenset({Role.OPS_MANAGER}),
    "policies.discard": frozenset({Role.OPS_MANAGER}),
    "policies.publish": frozenset({Role.OPS_MANAGER}),
    "policies.rollback": frozenset({Role.OPS_MANAGER}),
    "policies.simulation": frozenset({Role.OPS_MANAGER, Role.ADMIN}),
    "audit.log": AUDIT_READERS,
    "audit.verify": AUDIT_READERS,
    "documents.evidence_pack": EVERYONE,
    "documents.return_instructions": EVERYONE,
    "documents.audit_cases": AUDIT_READERS,
    "documents.audit_case": AUDIT_READERS,
    "documents.exports": AUDIT_READERS,
    "documents.export_status": AUDIT_READERS,
    "documents.export_download": AUDIT_READERS,
    "admin.users": frozenset({Role.ADMIN}),
}


@pytest.fixture
def sample_args(app: Flask, db: Session) -> dict[str, str]:
    """Real values for every URL parameter, so allowed requests reach the view."""
    shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-ACCESS")
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, "PNG")
    sha = store_attachment(db, app.extensions["attachments"], png.getvalue(), "image/png").sha256
    db.add(
        EvidenceItem(
            case=case, kind=EvidenceKind.PHOTO, source=EvidenceSource.BUYER, sha256=sha, filename="photo.png"
        )
    )
    db.add(
        Product(
            shop_id=shop.id,
            sku="SKU-IMG",
            title="Ring",
            category="jewelry",
            base_price_usd=10,
            image_sha256=sha,
        )
    )
    message = Message(
        case=case,
        direction=MessageDirection.OUTBOUND,
        status=MessageStatus.QUEUED,
        language="en",
        body="Your return",
        attachment_sha256=sha,
        attachment_name="instructions.pdf",
    )
    db.add(message)
    policy = Policy(name="Default")
    db.add_all(
        [
            policy,
            PolicyVersion(
                policy=policy,
                number=1,
                status=PolicyStatus.PUBLISHED,
                text="if value < 10 then refund_without_return",
            ),
        ]
    )
    db.commit()
    job = Job(kind="policy_simulation", status="running", params={"policy_id": policy.id})
    export = Job(kind="evidence_export", status="running", params={})
    db.add_all(
        [
            job,
            export,
            ReturnShipment(
                case=case,
                rma_number="RMA-ACCESS",
                status=ReturnStatus.APPROVED,
                return_address_id=market.return_addresses[0].id,
                shipping_payer=ShippingPayer.BUYER,
            ),
        ]
    )
    db.commit()
    return {
        "operation": "start_review",
        "what": "tag",
        "number": case.number,
        "sha256": sha,
        "policy_id": str(policy.id),
        "version_number": "1",
        "job_id": str(job.id),
        "export_id": str(export.id),
        "message_id": str(message.id),
    }


def _url(app: Flask, endpoint: str, sample: dict[str, str]) -> tuple[str, str]:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {
        arg: sample["version_number"] if arg == "number" and endpoint.startswith("policies.") else sample[arg]
        for arg in rule.arguments
    }
    with app.test_request_context():
        from flask import url_for

        url = url_for(endpoint, **values)
    method = "GET" if "GET" in (rule.methods or set()) else "POST"
    return url, method


def _request(client: FlaskClient, method: str, url: str) -> int:
    if method == "GET":
        return client.get(url).status_code
    token = csrf_token(client, "/settings")  # every signed-in role may open it
    response = client.post(url, data={"csrf_token": token})
    return response.status_code


def test_every_route_is_in_the_table(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert endpoints == set(EXPECTED)


@pytest.mark.parametrize("endpoint", sorted(EXPECTED))
def test_who_gets_in(
    app: Flask, login: Callable[[Role], FlaskClient], sample_args: dict[str, str], endpoint: str
) -> None:
    url, method = _url(app, endpoint, sample_args)
    expected = EXPECTED[endpoint]

    anonymous = app.test_client()
    if method == "GET":
        response = anonymous.get(url)
    else:
        response = anonymous.post(url, data={"csrf_token": csrf_token(anonymous, "/login")})
    if expected == PUBLIC:
        assert response.status_code in (200, 302), endpoint
        assert "/login?next" not in (response.location or "")
    else:
        assert response.status_code == 302 and response.location.startswith("/login"), endpoint

    for role in Role:
        status = _request(login(role), method, url)
        if expected == PUBLIC or role in expected:
            # 422: the view itself refused the empty form, so the role got in.
            assert status in (200, 302, 422), f"{role} should get into {endpoint}, got {status}"
        else:
            assert status == 403, f"{role} should be kept out of {endpoint}, got {status}"


def test_htmx_request_without_session_is_told_to_sign_in(app: Flask) -> None:
    response = app.test_client().get("/cases", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_undeclared_view_is_denied(app: Flask, login: Callable[[Role], FlaskClient]) -> None:
    @app.get("/undeclared")
    def undeclared() -> str:
        return "should never be seen"

    for role in Role:
        assert login(role).get("/undeclared").status_code == 403

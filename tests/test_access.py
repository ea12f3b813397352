"""Every route, for every role and for an anonymous visitor: who gets in and who does not."""

from __future__ import annotations

import io
from collections.abc import Callable

import pypdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

from portal.domain.accounts import reset_links
from portal.domain.api_tokens import create_token
from portal.domain.attachments import store_attachment
from portal.domain.enums import (
    DeadlineClock,
    EvidenceKind,
    EvidenceSource,
    MessageDirection,
    MessageStatus,
    PolicyStatus,
    ReturnStatus,
    Role,
    ShippingPayer,
)
from portal.domain.models import (
    DeadlineSetting,
    EvidenceItem,
    Job,
    Macro,
    Market,
    Message,
    MessageTemplateVersion,
    Policy,
    PolicyVersion,
    Product,
    ReturnShipment,
    SavedView,
    User,
)
from portal.domain.types import utcnow

PUBLIC = "public"
EVERYONE = frozenset(Role)
STAFF = frozenset({Role.OPS_MANAGER, Role.CS_AGENT, Role.ADMIN})
AUDIT_READERS = frozenset({Role.AUDITOR, Role.ADMIN, Role.OPS_MANAGER})
MESSAGE_EDITORS = frozenset({Role.OPS_MANAGER, Role.ADMIN})

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
    "auth.login_code": PUBLIC,
    "auth.reset_password": PUBLIC,
    "auth.change_password": EVERYONE,
    "auth.two_factor": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    "auth.two_factor_start": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    "auth.two_factor_confirm": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    "auth.two_factor_off": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    "auth.two_factor_recovery_codes": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    "cases.queue": EVERYONE,
    "cases.show": EVERYONE,
    "cases.act": STAFF,
    "cases.bulk": STAFF,
    "cases.update": STAFF,
    "cases.reply_template": STAFF,
    "cases.apply_macro": STAFF,
    "cases.retry_message": STAFF,
    "cases.message_attachment": EVERYONE,
    "cases.add_return_label": STAFF,
    "cases.return_label": EVERYONE,
    "cases.insurance_claimed": STAFF,
    "cases.views": STAFF,
    "cases.save_view": STAFF,
    "cases.rename_view": STAFF,
    "cases.delete_view_confirm": STAFF,
    "cases.delete_view": STAFF,
    "cases.next_case": EVERYONE,
    "cases.heartbeat": STAFF,
    "cases.leave_case": STAFF,
    "cases.away": STAFF,
    "cases.assignment_settings": MESSAGE_EDITORS,
    "cases.configure_queue": MESSAGE_EDITORS,
    "cases.configure_agent": MESSAGE_EDITORS,
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
    "policies.decide_request": frozenset({Role.OPS_MANAGER}),
    "policies.approval_setting": frozenset({Role.OPS_MANAGER, Role.ADMIN}),
    "policies.simulation": frozenset({Role.OPS_MANAGER, Role.ADMIN}),
    "audit.log": AUDIT_READERS,
    "audit.export_csv": AUDIT_READERS,
    "analytics.dashboard": frozenset({Role.OPS_MANAGER, Role.ADMIN, Role.AUDITOR}),
    "analytics.table_csv": frozenset({Role.OPS_MANAGER, Role.ADMIN, Role.AUDITOR}),
    "audit.verify": AUDIT_READERS,
    "audit.check_pack": AUDIT_READERS,
    "audit.public_key_pem": PUBLIC,
    "documents.evidence_pack": EVERYONE,
    "documents.return_instructions": EVERYONE,
    "documents.audit_cases": AUDIT_READERS,
    "documents.audit_case": AUDIT_READERS,
    "documents.exports": AUDIT_READERS,
    "documents.export_status": AUDIT_READERS,
    "documents.export_download": AUDIT_READERS,
    "admin.users": frozenset({Role.ADMIN}),
    "admin.tokens": frozenset({Role.ADMIN}),
    "admin.revoke_token": frozenset({Role.ADMIN}),
    "admin.user_action": frozenset({Role.ADMIN}),
    "admin.edit_user": frozenset({Role.ADMIN}),
    "admin.failed_work": frozenset({Role.ADMIN}),
    "admin.retry_failed_work": frozenset({Role.ADMIN}),
    # The JSON API takes bearer tokens of these roles; sessions get 401 there (test_who_gets_in).
    "api.openapi": PUBLIC,
    "api.list_cases": EVERYONE,
    "api.get_case": EVERYONE,
    "api.list_decisions": EVERYONE,
    "api.create_case": STAFF,
    "api.record_event": STAFF,
    "api.add_evidence": STAFF,
    "scheduling.health": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    "scheduling.settings": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    "scheduling.remove_setting": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    "scheduling.business_hours": frozenset({Role.ADMIN, Role.OPS_MANAGER}),
    "intake.tiktok_shop": PUBLIC,
    "intake.sync_status": frozenset({Role.ADMIN}),
    "intake.retry_event": frozenset({Role.ADMIN}),
    "intake.retry_command": frozenset({Role.ADMIN}),
    "shops.index": frozenset({Role.ADMIN}),
    "shops.new": frozenset({Role.ADMIN}),
    "shops.detail": frozenset({Role.ADMIN}),
    "shops.authorise": frozenset({Role.ADMIN}),
    "shops.callback": frozenset({Role.ADMIN}),
    "shops.test": frozenset({Role.ADMIN}),
    "shops.replace_secret": frozenset({Role.ADMIN}),
    "shops.add_address": frozenset({Role.ADMIN}),
    "carriers.aftership": PUBLIC,
    "carriers.seventeentrack": PUBLIC,
    "metrics": PUBLIC,  # for a scraper with METRICS_TOKEN, never a session
    "imports.index": frozenset({Role.OPS_MANAGER, Role.ADMIN}),
    "imports.batch": frozenset({Role.OPS_MANAGER, Role.ADMIN}),
    "imports.start": frozenset({Role.OPS_MANAGER, Role.ADMIN}),
    "imports.progress": frozenset({Role.OPS_MANAGER, Role.ADMIN}),
    "imports.errors_file": frozenset({Role.OPS_MANAGER, Role.ADMIN}),
    "messaging.templates_index": EVERYONE,
    "messaging.template": EVERYONE,
    "messaging.save_template": MESSAGE_EDITORS,
    "messaging.check_template": MESSAGE_EDITORS,
    "messaging.preview_template": MESSAGE_EDITORS,
    "messaging.reset_template": MESSAGE_EDITORS,
    "messaging.restore_template": MESSAGE_EDITORS,
    "messaging.macros_index": EVERYONE,
    "messaging.new_macro": MESSAGE_EDITORS,
    "messaging.edit_macro": MESSAGE_EDITORS,
    "messaging.check_macro": MESSAGE_EDITORS,
    "messaging.set_macro_active": MESSAGE_EDITORS,
    "messaging.move_macro": MESSAGE_EDITORS,
    "messaging.delete_macro": MESSAGE_EDITORS,
}
# A user's own things: another role's user got in and was told it does not exist (404).
OWNED = {"cases.rename_view", "cases.delete_view_confirm", "cases.delete_view"}
# Public to the access layer but authenticated by a signature: anything unsigned gets 401 (never 400).
SIGNED = {"intake.tiktok_shop", "carriers.aftership", "carriers.seventeentrack", "metrics"}


def _saved_view(db: Session, owner: User) -> int:
    view = SavedView(user_id=owner.id, name="Mine", query="view=mine")
    db.add(view)
    db.commit()
    return view.id


@pytest.fixture
def sample_args(app: Flask, db: Session, users: dict[Role, User]) -> dict[str, str]:
    """Real values for every URL parameter, so allowed requests reach the view."""
    shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-ACCESS")
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, "PNG")
    sha = store_attachment(db, app.extensions["attachments"], png.getvalue(), "image/png").sha256
    label = io.BytesIO()
    writer = pypdf.PdfWriter()
    writer.add_blank_page(200, 200)
    writer.write(label)
    label_sha = store_attachment(
        db, app.extensions["attachments"], label.getvalue(), "application/pdf"
    ).sha256
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
    macro = Macro(name="Hold it", actions="hold", position=0, active=True, created_at=utcnow())
    db.add(macro)
    setting = DeadlineSetting(name="seller_response", hours=24, clock=DeadlineClock.CALENDAR)
    db.add(setting)
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
    db.add(MessageTemplateVersion(purpose="refund_initiated", language="de", number=1, body="Hallo {buyer}."))
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
                label_sha256=label_sha,
                label_name="label.pdf",
                return_address_id=market.return_addresses[0].id,
                shipping_payer=ShippingPayer.BUYER,
            ),
        ]
    )
    db.commit()
    return {
        "operation": "start_review",
        "shop_id": str(shop.id),
        "table": "reasons",
        "what": "tag",
        "number": case.number,
        "sha256": sha,
        "policy_id": str(policy.id),
        "version_number": "1",
        "job_id": str(job.id),
        "export_id": str(export.id),
        "message_id": str(message.id),
        "macro_id": str(macro.id),
        "view_id": str(_saved_view(db, users[Role.CS_AGENT])),
        "event_id": "1",
        "market_id": str(market.id),
        "setting_id": str(setting.id),
        "command_id": "1",
        "token_id": str(_api_token(db, Role.ADMIN)[0]),
        "batch_id": str(_import_batch(app, db, market)),
        "purpose": "refund_initiated",
        "language": "de",
        "user_id": str(users[Role.CS_AGENT].id),
        "action": "sign_out",
        "request_id": "1",
        "decision": "reject",
        "rma": "RMA-ACCESS",
        "claim_id": "1",
        "token": reset_links.make_token(users[Role.CS_AGENT], app.config["SECRET_KEY"]),
    }


def _import_batch(app: Flask, db: Session, market: Market) -> int:
    """An orders import that failed validation, so its page, error file and restart all answer."""
    from portal.domain.csv_import import register_upload

    data = b"Order ID,Created Time,Buyer,SKU,Quantity,Unit Price\nX-1,2026-03-01 10:00,ann,S-1,1,abc\n"
    batch = register_upload(db, app.extensions["attachments"], kind="orders", filename="access.csv",
                            data=data, market=market)
    batch.status = "invalid"
    batch.error_count = 1
    batch.errors = [{"line": 2, "field": "unit_price", "value": "abc", "message": "bad", "params": {}}]
    db.commit()
    return batch.id


def _api_token(db: Session, role: Role) -> tuple[int, str]:
    new = create_token(db, f"access {role.value}", role)
    db.commit()
    return new.token.id, new.secret


def _check_api(app: Flask, login: Callable[[Role], FlaskClient], method: str, url: str,
               expected: frozenset[Role]) -> None:
    """API routes: no token or a browser session gets 401; a token gets in when its role may."""
    session = app.extensions["database"].session()
    try:
        secrets = {role: _api_token(session, role)[1] for role in Role}
    finally:
        session.close()
    for client in [app.test_client(), *(login(role) for role in Role)]:
        response = client.open(url, method=method, json={} if method == "POST" else None)
        assert response.status_code == 401 and response.is_json, f"{url} without a token"
    for role, secret in secrets.items():
        body = {} if method == "POST" else None
        response = app.test_client().open(
            url, method=method, json=body, headers={"Authorization": f"Bearer {secret}"}
        )
        status = response.status_code
        if role in expected:
            # 404/409/415/422: the view itself refused the empty request, so the token got in.
            assert status not in (401, 403) and status < 500, (role, url, status)
        else:
            assert status == 403 and response.is_json, (role, url, status)


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
    if endpoint.startswith("api.") and expected != PUBLIC:
        _check_api(app, login, method, url, expected)
        return

    anonymous = app.test_client()
    if method == "GET":
        response = anonymous.get(url)
    else:
        response = anonymous.post(url, data={"csrf_token": csrf_token(anonymous, "/login")})
    if endpoint in SIGNED:
        assert response.status_code == 401, endpoint
    elif expected == PUBLIC:
        assert response.status_code in (200, 302), endpoint
        assert "/login?next" not in (response.location or "")
    else:
        assert response.status_code == 302 and response.location.startswith("/login"), endpoint

    for role in Role:
        status = _request(login(role), method, url)
        if endpoint in SIGNED:
            assert status == 401, f"an unsigned request to {endpoint} should get 401, got {status}"
        elif expected == PUBLIC or role in expected:
            # 422: the view itself refused the empty form, so the role got in.
            got_in = status in (200, 204, 302, 422) or (status == 404 and endpoint in OWNED)
            assert got_in, f"{role} should get into {endpoint}, got {status}"
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

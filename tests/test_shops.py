"""Shops as data: adding and authorising a shop, refused callbacks, encrypted tokens, refresh,
de-authorisation, per-shop webhooks and decisions, and rotating the encryption key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token, make_test_app
from support.factories import shop_with_market
from support.marketplace import envelope
from support.shops import (
    APP_A,
    APP_B,
    SHOP_A,
    SHOP_B,
    Marketplace,
    add_shop_form,
    start_authorisation,
    start_marketplace,
    webhook_deliverer,
)

from portal.domain.enums import Role
from portal.domain.marketplace.processing import process_pending
from portal.domain.marketplace.signing import webhook_signature
from portal.domain.models import AuditEntry, Market, MarketplaceEvent, Shop, ShopConnection
from portal.domain.shops.connections import load_clients
from portal.domain.shops.refresh import refresh_due
from portal.domain.shops.secrets import Vault
from portal.domain.types import utcnow


@pytest.fixture
def market() -> Iterator[Marketplace]:
    found = start_marketplace(b_access_lifetime=120)
    yield found
    found.stop()


@pytest.fixture
def app(database_url: str, tmp_path: Path, market: Marketplace) -> Iterator[Flask]:
    application = make_test_app(database_url, tmp_path, SERVER_NAME="portal.test", **market.portal_config())
    market.platform.apps[APP_B[0]].redirect_url = "http://portal.test/admin/shops/callback"
    with application.extensions["database"].session() as session:
        shop, _market = shop_with_market(session, code="US")
        shop.external_shop_id = SHOP_A
        session.commit()
    yield application
    application.extensions["database"].engine.dispose()


def _connection(db: Session) -> ShopConnection:
    db.expire_all()
    found = db.scalar(select(ShopConnection).join(Shop).where(Shop.external_shop_id == SHOP_B))
    assert found is not None
    return found


def _connect(admin: FlaskClient, market: Marketplace, db: Session) -> ShopConnection:
    assert add_shop_form(admin).status_code == 303
    shop_id = _connection(db).shop_id
    state = start_authorisation(admin, shop_id)
    code = market.platform.issue_code(APP_B[0], SHOP_B)  # the seller approves on the marketplace
    response = admin.get(f"/admin/shops/callback?code={code}&state={state}")
    assert response.status_code == 303, response.get_data(as_text=True)
    return _connection(db)


def test_admin_adds_a_shop_and_connects_it(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace, app: Flask
) -> None:
    admin = login(Role.ADMIN)
    response = add_shop_form(admin)
    assert response.status_code == 303
    connection = _connection(db)
    assert connection.status == "pending" and connection.access_token is None
    assert [m.code for m in db.scalars(select(Market).where(Market.shop_id == connection.shop_id))] == ["UK"]
    page = admin.get(f"/admin/shops/{connection.shop_id}").get_data(as_text=True)
    assert "not authorised yet" in page and APP_B[1] not in page

    state = start_authorisation(admin, connection.shop_id)
    code = market.platform.issue_code(APP_B[0], SHOP_B)
    response = admin.get(f"/admin/shops/callback?code={code}&state={state}", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "is connected" in html and "Lumen UK seller" in html
    connection = _connection(db)
    assert connection.status == "connected" and connection.shop_cipher == market.b.cipher
    # Stored encrypted: the database holds neither the secret nor the token in clear.
    token = next(t for t, grant in market.platform.access.items() if grant.shop_id == SHOP_B)
    assert token not in (connection.access_token or "") and APP_B[1] not in connection.app_secret
    vault = Vault.from_config(app.config)
    assert vault.open(connection.access_token or "") == token
    assert vault.open(connection.app_secret) == APP_B[1]
    assert token not in html and APP_B[1] not in html
    assert connection.refresh_state == "scheduled" and connection.refresh_due_at is not None
    assert connection.access_expires_at is not None
    assert connection.refresh_due_at < connection.access_expires_at
    actions = set(db.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "shop")))
    assert {"shop.added", "shop.connected"} <= actions
    # The test button asks the marketplace which shops the token covers.
    response = admin.post(f"/admin/shops/{connection.shop_id}/test",
                          data={"csrf_token": csrf_token(admin, "/admin/shops")}, follow_redirects=True)
    assert "accepts the shop" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "problem", ["wrong_state", "replayed_state", "expired_code", "other_shop", "no_code"]
)
def test_refused_callbacks_store_nothing(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace, problem: str
) -> None:
    admin = login(Role.ADMIN)
    assert add_shop_form(admin).status_code == 303
    shop_id = _connection(db).shop_id
    state = start_authorisation(admin, shop_id)
    code = market.platform.issue_code(APP_B[0], SHOP_B)
    expected = "Nothing was stored"
    if problem == "wrong_state":
        url = f"/admin/shops/callback?code={code}&state=forged-{state[:10]}"
        message = "not one the portal asked"
    elif problem == "replayed_state":
        # A first answer with that state was used (and refused); the same state cannot be used again.
        admin.get(f"/admin/shops/callback?code=bogus&state={state}")
        url, message = f"/admin/shops/callback?code={code}&state={state}", "already used"
    elif problem == "expired_code":
        market.b.code_lifetime = -1
        code = market.platform.issue_code(APP_B[0], SHOP_B)
        url, message = f"/admin/shops/callback?code={code}&state={state}", "has expired"
    elif problem == "other_shop":
        # Shop A's seller approves (under shop A's app) where shop B was expected.
        market.a.app_key = APP_B[0]
        code = market.platform.issue_code(APP_B[0], SHOP_A)
        url, message = f"/admin/shops/callback?code={code}&state={state}", f"not shop {SHOP_B}"
    else:
        url, message = f"/admin/shops/callback?state={state}", "no authorisation code"
    response = admin.get(url)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and expected in html, html
    connection = _connection(db)
    assert connection.status == "pending"
    assert (connection.access_token, connection.refresh_token, connection.shop_cipher) == (None, None, None)


def test_a_state_begun_by_another_admin_or_expired_is_refused(
    login: Callable[[Role], FlaskClient], db: Session, users: dict[Role, object], market: Marketplace
) -> None:
    admin = login(Role.ADMIN)
    assert add_shop_form(admin).status_code == 303
    connection = _connection(db)
    state = start_authorisation(admin, connection.shop_id)
    connection = _connection(db)
    connection.auth_user_id = None  # as if another admin had pressed the button
    db.commit()
    code = market.platform.issue_code(APP_B[0], SHOP_B)
    html = admin.get(f"/admin/shops/callback?code={code}&state={state}").get_data(as_text=True)
    assert "Another admin" in html
    state = start_authorisation(admin, connection.shop_id)
    connection = _connection(db)
    connection.auth_state_expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    html = admin.get(f"/admin/shops/callback?code={code}&state={state}").get_data(as_text=True)
    assert "link has expired" in html and _connection(db).access_token is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("external_shop_id", "", "This field is required"),
        ("external_shop_id", "74 95; drop", "Use only letters"),
        ("external_shop_id", SHOP_A, "already in the portal"),
        ("name", "x" * 121, "120"),
        ("app_secret", "", "This field is required"),
        ("markets", [], "This field is required"),
        ("markets", ["XX"], "not a valid choice"),
    ],
)
def test_bad_shop_input_is_refused_and_changes_nothing(
    login: Callable[[Role], FlaskClient], db: Session, field: str, value: object, message: str
) -> None:
    response = add_shop_form(login(Role.ADMIN), **{field: value})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.scalar(select(ShopConnection.id)) is None
    assert db.scalar(select(Shop.id).where(Shop.name == "Lumen UK")) is None


def test_only_admins_reach_shops_and_forms_need_csrf(
    login: Callable[[Role], FlaskClient], db: Session
) -> None:
    assert login(Role.OPS_MANAGER).get("/admin/shops").status_code == 403
    admin = login(Role.ADMIN)
    assert admin.post("/admin/shops/new", data={"name": "x"}).status_code == 400
    assert db.scalar(select(ShopConnection.id)) is None


def test_return_address_is_added_to_the_shops_market(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace
) -> None:
    admin = login(Role.ADMIN)
    connection = _connect(admin, market, db)
    uk = db.scalar(select(Market).where(Market.shop_id == connection.shop_id))
    assert uk is not None
    url = f"/admin/shops/{connection.shop_id}/addresses"
    data = {"address-market": str(uk.id), "address-kind": "local_warehouse", "address-label_": "Leeds",
            "address-recipient": "Lumen Returns", "address-street": "4 Mill Rd", "address-city": "Leeds",
            "address-postcode": "LS1 4AB", "address-country": "gb", "address-phone": "+44 113 000",
            "address-carriers": "DPD",
            "address-is_default": "y", "csrf_token": csrf_token(admin, f"/admin/shops/{connection.shop_id}")}
    bad = admin.post(url, data={**data, "address-country": "G1"})
    assert bad.status_code == 422 and "Two letters" in bad.get_data(as_text=True)
    assert admin.post(url, data={**data, "address-carriers": ""}).status_code == 422
    other = db.scalar(select(Market).where(Market.shop_id != connection.shop_id))
    assert other is not None
    assert admin.post(url, data={**data, "address-market": str(other.id)}).status_code == 422
    response = admin.post(url, data=data, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "4 Mill Rd" in html and "LS1 4AB" in html and ", GB" in html
    assert "Lumen Returns" in html and "4 Mill Rd" not in admin.get(f"/admin/shops/{other.shop_id}").get_data(
        as_text=True)


def test_tokens_are_refreshed_before_they_expire_and_a_refused_refresh_stops_the_shop(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace, app: Flask
) -> None:
    admin = login(Role.ADMIN)
    connection = _connect(admin, market, db)
    factory, vault = app.extensions["database"].sessionmaker, Vault.from_config(app.config)
    old = vault.open(connection.access_token or "")
    due = connection.refresh_due_at
    assert due is not None
    assert refresh_due(factory, vault, app.config, now=due - timedelta(seconds=1)).refreshed == 0
    result = refresh_due(factory, vault, app.config, now=due)
    assert result.refreshed == 1 and market.b.refreshes == 1
    connection = _connection(db)
    new = vault.open(connection.access_token or "")
    assert new != old and connection.last_refreshed_at is not None and connection.refresh_state == "scheduled"
    # Work goes on with the new token; the old one is refused by the marketplace.
    with factory() as session:
        client = load_clients(session, vault, app.config).for_shop(SHOP_B)
    assert client is not None and client.access_token == new
    assert market.platform.shop_for_token(new).state.shop_id == SHOP_B

    # The seller's refresh token is revoked: the refresh is refused, not retried, and the shop stops.
    market.platform.refresh.clear()
    result = refresh_due(factory, vault, app.config, now=connection.refresh_due_at)
    assert result.failed == 1
    connection = _connection(db)
    assert connection.status == "failed" and connection.refresh_state == "failed"
    assert "refresh_token is invalid" in (connection.status_reason or "")
    with factory() as session:
        assert SHOP_B in load_clients(session, vault, app.config).blocked
    html = admin.get("/cases").get_data(as_text=True)
    assert "stopped syncing" in html and "refresh_token is invalid" in html
    assert "Token refresh of shop “Lumen UK”" in admin.get("/admin/failed-work").get_data(as_text=True)


def test_deauthorisation_warns_admins_and_stops_only_that_shop(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace, app: Flask
) -> None:
    import requests

    admin = login(Role.ADMIN)
    _connect(admin, market, db)
    factory, vault = app.extensions["database"].sessionmaker, Vault.from_config(app.config)
    assert requests.post(f"{market.url}/_simulator/shops/unknown/deauthorise", timeout=5).status_code == 404
    answer = requests.post(f"{market.url}/_simulator/shops/{SHOP_B}/deauthorise", timeout=5)
    assert answer.status_code == 200 and answer.json()["data"]["type"] == 6
    assert market.notifier(market.b, webhook_deliverer(app)).flush() == 1
    with factory() as session:
        clients = load_clients(session, vault, app.config)
    process_pending(factory, clients)
    connection = _connection(db)
    assert connection.status == "deauthorised" and connection.access_token is None
    assert "de-authorised on the marketplace" in (connection.status_reason or "")
    for url in ("/cases", "/admin/shops", "/settings"):
        html = admin.get(url).get_data(as_text=True)
        assert 'id="shop-warnings"' in html and "Lumen UK" in html and "was de-authorised" in html, url
    assert 'id="shop-warnings"' not in login(Role.CS_AGENT).get("/cases").get_data(as_text=True)
    with factory() as session:
        clients = load_clients(session, vault, app.config)
    assert SHOP_B in clients.blocked and clients.for_shop(SHOP_A) is clients.fallback
    # A later notification from the stopped shop is kept and reported, not applied or dropped.
    body = envelope(1, {"order_id": "O-1", "order_status": "DELIVERED", "update_time": 5}, SHOP_B)
    signature = webhook_signature(APP_B[0], APP_B[1], body)
    assert app.test_client().post("/webhooks/tiktok-shop", data=body,
                                  headers={"Authorization": signature}).status_code == 200
    process_pending(factory, clients)
    db.expire_all()
    event = db.scalar(select(MarketplaceEvent).where(MarketplaceEvent.type == 1))
    assert event is not None and event.state == "failed" and "deauthorised" in (event.last_error or "")


def test_webhooks_are_verified_with_the_named_shops_own_secret(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace, app: Flask
) -> None:
    _connect(login(Role.ADMIN), market, db)
    web = app.test_client()

    def post(shop: str, app_key: str, secret: str) -> int:
        body = envelope(1, {"order_id": "O-9", "order_status": "DELIVERED", "update_time": 7}, shop)
        signature = webhook_signature(app_key, secret, body)
        return web.post("/webhooks/tiktok-shop", data=body, headers={"Authorization": signature}).status_code

    assert post(SHOP_B, *APP_B) == 200
    assert post(SHOP_B, *APP_A) == 401  # another app's secret does not speak for shop B
    assert post(SHOP_A, *APP_A) == 200  # the environment's shop, as before
    # A shop the portal does not know, signed by a known app: kept (and reported when processed).
    assert post("7495999", *APP_B) == 200
    assert post("7495999", "stranger", "nobody") == 401


def test_an_authorisation_notice_for_an_unknown_shop_is_kept_and_reported(app: Flask, db: Session) -> None:
    body = envelope(6, {"message": "gone"}, "7495999")
    signature = webhook_signature(*APP_A, body)
    assert app.test_client().post("/webhooks/tiktok-shop", data=body,
                                  headers={"Authorization": signature}).status_code == 200
    process_pending(app.extensions["database"].sessionmaker, None)
    event = db.scalar(select(MarketplaceEvent))
    assert event is not None and event.state == "failed"
    assert "not connected in the portal" in (event.last_error or "")


def test_expiry_notice_warns_admins(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace, app: Flask
) -> None:
    admin = login(Role.ADMIN)
    _connect(admin, market, db)
    market.platform.warn_expiry(SHOP_B, int(utcnow().timestamp()) + 86400)
    market.notifier(market.b, webhook_deliverer(app)).flush()
    factory = app.extensions["database"].sessionmaker
    process_pending(factory, None)
    assert _connection(db).status == "connected"
    assert "expires soon; authorise it again" in admin.get("/cases").get_data(as_text=True)


def test_a_refresh_token_near_its_end_warns_admins(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace
) -> None:
    admin = login(Role.ADMIN)
    market.b.refresh_lifetime = 3 * 86400  # no refresh can carry the shop past three days
    _connect(admin, market, db)
    assert "expires soon; authorise it again" in admin.get("/cases").get_data(as_text=True)


def test_replacing_the_secret_keeps_the_old_one_for_webhooks(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace, app: Flask
) -> None:
    admin = login(Role.ADMIN)
    connection = _connect(admin, market, db)
    url = f"/admin/shops/{connection.shop_id}/secret"
    token = csrf_token(admin, f"/admin/shops/{connection.shop_id}")
    assert admin.post(url, data={"secret-app_secret": "", "csrf_token": token}).status_code == 422
    response = admin.post(url, data={"secret-app_secret": "new-secret", "csrf_token": token})
    assert response.status_code == 303
    web = app.test_client()
    for secret in ("new-secret", APP_B[1]):
        body = envelope(1, {"order_id": "O-3", "order_status": "DELIVERED", "update_time": 9}, SHOP_B)
        signature = webhook_signature(APP_B[0], secret, body)
        response = web.post("/webhooks/tiktok-shop", data=body, headers={"Authorization": signature})
        assert response.status_code == 200


def test_rotate_keys_re_encrypts_under_the_new_secret_key(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace, app: Flask, tmp_path: Path,
    database_url: str,
) -> None:
    _connect(login(Role.ADMIN), market, db)
    before = _connection(db).access_token or ""
    rotated = make_test_app(database_url, tmp_path, SECRET_KEY="new-secret-key",
                            SECRET_KEY_FALLBACKS=[app.config["SECRET_KEY"]], **market.portal_config())
    # During the rotation the old values still read, so the portal keeps working.
    with rotated.extensions["database"].session() as session:
        assert SHOP_B in load_clients(session, Vault.from_config(rotated.config), rotated.config).connected
    result = rotated.test_cli_runner().invoke(args=["shops", "rotate-keys"])
    assert result.exit_code == 0 and "Re-encrypted 3 stored values" in result.output
    after = _connection(db)
    assert after.access_token != before
    alone = Vault("new-secret-key")
    assert alone.open(after.app_secret) == APP_B[1]
    assert alone.open(after.access_token or "") == Vault("test-secret").open(before)
    rotated.extensions["database"].engine.dispose()


UK_POLICY = """policy "UK returns"
if value < 100 then approve_return
else manual_review
"""


def test_a_return_from_the_second_shop_uses_its_policy_address_and_credentials(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace, app: Flask
) -> None:
    from support.factories import publish_policy
    from support.shops import ITEM

    from portal.domain.conversations import outbox
    from portal.domain.conversations.channels import Router
    from portal.domain.enums import AddressKind, CaseStatus
    from portal.domain.marketplace.commands import send_pending
    from portal.domain.models import ReturnAddress

    connection = _connect(login(Role.ADMIN), market, db)
    uk = db.scalar(select(Market).where(Market.shop_id == connection.shop_id))
    assert uk is not None
    db.add(ReturnAddress(market=uk, kind=AddressKind.LOCAL_WAREHOUSE, label="Leeds",
                         recipient="Lumen Returns", street="4 Mill Rd", city="Leeds", postcode="LS1 4AB",
                         country="GB", phone="+44 113",
                         carriers="DPD", is_default=True))
    publish_policy(db, UK_POLICY, market=uk)
    db.commit()
    state = market.b.state
    state.add_order(region="GB", currency="GBP", items=[ITEM], user_id="buyer-uk", order_id="O-UK-1")
    ret = state.request_return("O-UK-1")
    assert market.notifier(market.b, webhook_deliverer(app)).flush() == 1
    factory, vault = app.extensions["database"].sessionmaker, Vault.from_config(app.config)
    with factory() as session:
        clients = load_clients(session, vault, app.config)
    assert process_pending(factory, clients).done == 1
    db.expire_all()
    from portal.domain.models import Case

    case = db.scalar(select(Case))
    assert case is not None and case.market_id == uk.id and case.shop_id == connection.shop_id
    assert case.status == CaseStatus.RETURN_APPROVED  # the UK market's own policy decided it
    assert case.returns[-1].address.street == "4 Mill Rd"
    # The decision goes out with shop B's credentials, to shop B only.
    assert send_pending(factory, clients).sent == 1
    assert [d[1] for d in market.b.state.decisions] == ["APPROVE_RETURN"] and market.a.state.decisions == []
    assert market.b.state.returns[ret["return_id"]]["return_status"] == "AWAITING_BUYER_SHIP"
    # So does the message telling the buyer: into shop B's conversation with them.
    router = Router({**app.config, "MESSAGE_CHANNEL": "auto"}, shops=clients)
    assert outbox.dispatch(factory, router, app.extensions["attachments"]) >= 1
    assert market.b.state.shop_messages() and not market.a.state.shop_messages()


def test_a_refused_token_stops_the_shop_with_its_reason_until_a_refresh_fixes_it(
    login: Callable[[Role], FlaskClient], db: Session, market: Marketplace, app: Flask
) -> None:
    from portal.intake.scheduled import reconcile_shops

    admin = login(Role.ADMIN)
    _connect(admin, market, db)
    factory, vault = app.extensions["database"].sessionmaker, Vault.from_config(app.config)
    app.config["MARKETPLACE_SYNC_SECONDS"] = 0
    # The marketplace stops accepting the shop's access token (its refresh token still works).
    market.platform.access = {k: v for k, v in market.platform.access.items() if v.shop_id != SHOP_B}
    reconcile_shops(app, factory)
    connection = _connection(db)
    assert connection.status == "failed" and "access token is invalid" in (connection.status_reason or "")
    assert connection.refresh_state == "scheduled"
    assert "stopped syncing" in admin.get("/cases").get_data(as_text=True)
    # Shop B is not polled again while stopped; shop A goes on.
    from portal.domain.models import MarketplaceSyncCursor

    runs = {c.shop_id: c.last_run_at for c in db.scalars(select(MarketplaceSyncCursor))}
    reconcile_shops(app, factory)
    db.expire_all()
    again = {c.shop_id: c.last_run_at for c in db.scalars(select(MarketplaceSyncCursor))}
    assert again[SHOP_B] == runs[SHOP_B] and again[SHOP_A] != runs[SHOP_A]
    # The refresh that was scheduled at once brings it back.
    assert refresh_due(factory, vault, app.config, now=utcnow() + timedelta(seconds=1)).refreshed == 1
    assert _connection(db).status == "connected"
    assert 'id="shop-warnings"' not in admin.get("/cases").get_data(as_text=True)


def test_each_sending_thread_gets_its_own_connections() -> None:
    from portal.domain.marketplace.client import MarketplaceClient
    from portal.domain.marketplace.clients import ShopClients, ShopUnavailable

    shops = ShopClients(connected={SHOP_B: MarketplaceClient("http://b", "kb", "sb", "tb")},
                        blocked={"9": "shop 9 is deauthorised: gone"},
                        fallback=MarketplaceClient("http://a", "ka", "sa", "ta"))
    copy = shops.copy()
    assert copy.connected[SHOP_B].http is not shops.connected[SHOP_B].http
    assert copy.connected[SHOP_B].access_token == "tb" and copy.for_shop("other") is not shops.fallback
    with pytest.raises(ShopUnavailable, match="deauthorised"):
        copy.for_shop("9")

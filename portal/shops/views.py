"""Admin pages for shops: add one, authorise it on the marketplace, test it, replace its secret, addresses."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.access import allow, can
from portal.db import db_session
from portal.domain import audit
from portal.domain.enums import AddressKind, Role
from portal.domain.models import Market, ReturnAddress, Shop, ShopConnection
from portal.domain.shops import connections
from portal.domain.shops.platform import authorize_url
from portal.domain.shops.secrets import Vault
from portal.domain.types import utcnow
from portal.rendering import render
from portal.security import CONTENT_SECURITY_POLICY
from portal.shops.forms import AddressForm, SecretForm, ShopForm

bp = Blueprint("shops", __name__, url_prefix="/admin/shops")


def _vault() -> Vault:
    return Vault.from_config(current_app.config)


def _shops() -> list[dict[str, Any]]:
    session = db_session()
    query = select(Shop).options(selectinload(Shop.markets)).order_by(Shop.name, Shop.id)
    shops = session.scalars(query).all()
    by_shop = {c.shop_id: c for c in session.scalars(select(ShopConnection))}
    return [{"shop": shop, "connection": by_shop.get(shop.id)} for shop in shops]


@bp.get("")
@allow(Role.ADMIN)
def index() -> ResponseReturnValue:
    config = current_app.config
    env = bool(config.get("TIKTOK_SHOP_APP_KEY") and config.get("TIKTOK_SHOP_APP_SECRET"))
    return render("shops/index.html", shops=_shops(), env_configured=env)


@bp.route("/new", methods=["GET", "POST"])
@allow(Role.ADMIN)
def new() -> ResponseReturnValue:
    form = ShopForm()
    if form.validate_on_submit():
        session = db_session()
        external_id = (form.external_shop_id.data or "").strip()
        if session.scalar(select(Shop.id).where(Shop.external_shop_id == external_id)) is not None:
            form.external_shop_id.errors.append(_("A shop with this id is already in the portal."))
        else:
            shop = connections.add_shop(
                session, _vault(), name=(form.name.data or "").strip(),
                company_name=(form.company_name.data or "").strip(), external_shop_id=external_id,
                app_key=(form.app_key.data or "").strip(), app_secret=form.app_secret.data or "",
                market_codes=list(form.markets.data or []),
            )
            audit.record(session, "shop.added", "shop", shop.id,
                         {"external_shop_id": external_id, "markets": list(form.markets.data or [])},
                         actor=current_user)
            session.commit()
            flash(_("Shop “%(name)s” added. Authorise it on the marketplace to connect it.", name=shop.name),
                  "success")
            return redirect(url_for("shops.detail", shop_id=shop.id), code=303)
    status = 422 if form.is_submitted() else 200
    callback_url = url_for("shops.callback", _external=True)
    return render("shops/new.html", form=form, callback=callback_url, status=status)


def _refusal(error: connections.AuthorisationRefused) -> str:
    """Why the callback was refused, in the admin's language."""
    words = {
        "unknown_state": _("This answer from the marketplace is not one the portal asked for, or it was "
                           "already used."),
        "expired_state": _("This authorisation link has expired."),
        "other_admin": _("Another admin started this authorisation; start it yourself."),
        "no_code": _("The marketplace sent no authorisation code."),
        "code_refused": _("The marketplace refused the authorisation code (%(error)s): it has expired or was "
                          "used already.", error=error.details.get("error", "")),
        "wrong_shop": _("The seller authorised shop %(granted)s, not shop %(wanted)s; sign in to the "
                        "marketplace as the seller of this shop.", granted=error.details.get("granted", ""),
                        wanted=error.details.get("wanted", "")),
    }
    return words.get(error.kind, error.kind) + " " + _("Nothing was stored; start the authorisation again.")


def _detail_page(shop: Shop, connection: ShopConnection | None, status: int = 200,
                 address_form: AddressForm | None = None,
                 secret_form: SecretForm | None = None) -> ResponseReturnValue:
    session = db_session()
    markets = list(session.scalars(select(Market).where(Market.shop_id == shop.id).order_by(Market.code)))
    addresses = session.scalars(
        select(ReturnAddress).where(ReturnAddress.market_id.in_([m.id for m in markets]))
        .order_by(ReturnAddress.market_id, ReturnAddress.id)
    ).all() if markets else []
    choices = [(m.id, f"{m.code} · {m.name}") for m in markets]
    response = render(
        "shops/detail.html",
        shop=shop,
        connection=connection,
        markets=markets,
        addresses=addresses,
        address_form=address_form or AddressForm(choices, formdata=None, prefix="address"),
        secret_form=secret_form or SecretForm(formdata=None, prefix="secret"),
        callback=url_for("shops.callback", _external=True),
        now=utcnow(),
        status=status,
    )
    # "Authorise" posts here and is redirected to the marketplace: the browser must allow that form target.
    parts = urlsplit(connections.auth_service(current_app.config).auth_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {origin}"
    )
    return response


def _load(shop_id: int) -> tuple[Shop, ShopConnection | None] | None:
    session = db_session()
    shop = session.get(Shop, shop_id)
    if shop is None:
        return None
    return shop, session.scalar(select(ShopConnection).where(ShopConnection.shop_id == shop_id))


def _missing() -> ResponseReturnValue:
    flash(_("There is no such shop."), "error")
    return redirect(url_for("shops.index"))


@bp.get("/<int:shop_id>")
@allow(Role.ADMIN)
def detail(shop_id: int) -> ResponseReturnValue:
    found = _load(shop_id)
    if found is None:
        return _missing()
    return _detail_page(*found)


@bp.post("/<int:shop_id>/authorise")
@allow(Role.ADMIN)
def authorise(shop_id: int) -> ResponseReturnValue:
    """Send the admin to the marketplace's authorisation page with a fresh, single-use `state`."""
    found = _load(shop_id)
    if found is None or found[1] is None:
        return _missing()
    shop, connection = found
    assert connection is not None
    session = db_session()
    state = connections.begin_authorisation(connection, current_user.id, utcnow())
    session.commit()
    auth_url = connections.auth_service(current_app.config).auth_url
    return redirect(authorize_url(auth_url, connection.app_key, state), code=303)


@bp.get("/callback")
@allow(Role.ADMIN)
def callback() -> ResponseReturnValue:
    """The marketplace sends the admin back here with `code` and `state` after the seller approved."""
    session = db_session()
    state = (request.args.get("state") or "")[:200]
    code = (request.args.get("code") or "")[:600]
    now = utcnow()
    try:
        connection = connections.take_state(session, state, current_user.id, now)
    except connections.AuthorisationRefused as error:
        session.commit()  # only the used-up state is written; nothing about the shop changes
        return render("shops/refused.html", reason=_refusal(error), status=422)
    session.commit()  # the state is used up whatever the marketplace answers
    shop_id = connection.shop_id
    try:
        connections.complete_authorisation(session, _vault(), current_app.config, connection, code, now)
    except connections.AuthorisationRefused as error:
        session.rollback()
        return render("shops/refused.html", reason=_refusal(error), shop_id=shop_id, status=422)
    audit.record(session, "shop.connected", "shop", shop_id,
                 {"open_id": connection.open_id, "seller": connection.seller_name}, actor=current_user)
    session.commit()
    flash(_("Shop “%(name)s” is connected; its token is refreshed before it expires.",
            name=connection.shop.name), "success")
    return redirect(url_for("shops.detail", shop_id=shop_id), code=303)


@bp.post("/<int:shop_id>/test")
@allow(Role.ADMIN)
def test(shop_id: int) -> ResponseReturnValue:
    found = _load(shop_id)
    if found is None or found[1] is None:
        return _missing()
    connection = found[1]
    assert connection is not None
    problem = connections.check_connection(connection, _vault(), current_app.config)
    db_session().commit()
    if problem is None:
        flash(_("The marketplace accepts the shop's token."), "success")
    else:
        flash(_("The connection test failed: %(problem)s", problem=problem), "error")
    return redirect(url_for("shops.detail", shop_id=shop_id), code=303)


@bp.post("/<int:shop_id>/secret")
@allow(Role.ADMIN)
def replace_secret(shop_id: int) -> ResponseReturnValue:
    found = _load(shop_id)
    if found is None or found[1] is None:
        return _missing()
    shop, connection = found
    assert connection is not None
    form = SecretForm(prefix="secret")
    if not form.validate_on_submit():
        return _detail_page(shop, connection, 422, secret_form=form)
    session = db_session()
    connections.replace_secret(connection, _vault(), form.app_secret.data or "", utcnow())
    audit.record(session, "shop.secret_replaced", "shop", shop_id, {}, actor=current_user)
    session.commit()
    flash(_("The app secret is replaced; the old one is still accepted on notifications for 7 days."),
          "success")
    return redirect(url_for("shops.detail", shop_id=shop_id), code=303)


@bp.post("/<int:shop_id>/addresses")
@allow(Role.ADMIN)
def add_address(shop_id: int) -> ResponseReturnValue:
    found = _load(shop_id)
    if found is None:
        return _missing()
    shop, connection = found
    session = db_session()
    markets = list(session.scalars(select(Market).where(Market.shop_id == shop.id).order_by(Market.code)))
    form = AddressForm([(m.id, f"{m.code} · {m.name}") for m in markets], prefix="address")
    if not form.validate_on_submit():
        return _detail_page(shop, connection, 422, address_form=form)
    market = next(m for m in markets if m.id == form.market.data)
    if form.is_default.data:
        for other in session.scalars(select(ReturnAddress).where(ReturnAddress.market_id == market.id)):
            other.is_default = False
    address = ReturnAddress(
        market=market, kind=AddressKind(form.kind.data), label=(form.label_.data or "").strip(),
        recipient=(form.recipient.data or "").strip(), street=(form.street.data or "").strip(),
        city=(form.city.data or "").strip(), region=(form.region.data or "").strip() or None,
        postcode=(form.postcode.data or "").strip(), country=(form.country.data or "").upper(),
        phone=(form.phone.data or "").strip(), carriers=(form.carriers.data or "").strip(),
        is_default=bool(form.is_default.data),
    )
    session.add(address)
    session.flush()
    audit.record(session, "shop.address_added", "shop", shop_id,
                 {"market": market.code, "address": address.id},
                 actor=current_user)
    session.commit()
    flash(_("Return address “%(label)s” added to %(market)s.", label=address.label, market=market.code),
          "success")
    return redirect(url_for("shops.detail", shop_id=shop_id) + "#addresses", code=303)


def warnings() -> list[ShopConnection]:
    """Shops an admin must act on, for the warning on every page (admins only)."""
    if not can("shops.index"):
        return []
    return connections.needs_attention(db_session())


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["shop_warnings"] = warnings

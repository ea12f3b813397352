"""The simulator's HTTP API: TikTok Shop's paths and answers, checking each request's signature."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, request
from markupsafe import escape

from portal.domain.conversations import channels
from portal.domain.marketplace import client as api
from portal.domain.marketplace.signing import api_signature
from portal.domain.shops.platform import AUTHORIZE_PATH, AUTHORIZED_SHOPS, TOKEN_GET, TOKEN_REFRESH
from portal.simulator.platform import Platform
from portal.simulator.state import MarketplaceState, SimulatorError

# How far a request's timestamp may be from the simulator's clock, as on the real platform.
TIMESTAMP_TOLERANCE = 300


def _answer(data: Any = None, code: int = 0, message: str = "Success", status: int = 200) -> Response:
    response = jsonify(code=code, message=message, request_id=uuid.uuid4().hex, data=data)
    response.status_code = status
    return response


def _page(rows: list[dict[str, Any]], key: str) -> Response:
    size = max(1, min(100, int(request.args.get("page_size") or 20)))
    token = request.args.get("page_token") or "0"
    start = int(token) if token.isdigit() else 0
    chunk = rows[start : start + size]
    following = str(start + size) if start + size < len(rows) else ""
    return _answer({key: chunk, "next_page_token": following, "total_count": len(rows)})


def create_simulator_app(
    state: MarketplaceState | Platform, app_key: str = "", app_secret: str = "", access_token: str = ""
) -> Flask:
    """The simulator's API for one shop (the old way: one app, one token) or a whole Platform of shops."""
    platform = (
        state if isinstance(state, Platform) else Platform.single(state, app_key, app_secret, access_token)
    )
    app = Flask("marketplace_simulator")
    bucket = {"tokens": 0.0, "at": time.monotonic()}
    bucket_lock = threading.Lock()
    # Faults apply to every shop: they stand for the platform's own trouble.
    first = next(iter(platform.shops.values())).state
    faults = first.faults

    def _state() -> MarketplaceState:
        found: MarketplaceState = g.state
        return found

    @app.before_request
    def check() -> Response | None:
        if request.path.startswith(("/_", "/oauth/", "/api/v2/token/")):
            return None  # files, inspection pages and the authorisation service are not signed API calls
        if faults.requests_per_second:
            with bucket_lock:
                now = time.monotonic()
                rate = faults.requests_per_second
                bucket["tokens"] = min(rate, bucket["tokens"] + (now - bucket["at"]) * rate)
                bucket["at"] = now
                if bucket["tokens"] < 1:
                    response = _answer(code=36009004, message="too many requests", status=429)
                    response.headers["Retry-After"] = "1"
                    return response
                bucket["tokens"] -= 1
        params = {k: v for k, v in request.args.items()}
        known = platform.apps.get(params.get("app_key") or "")
        if known is None:
            return _answer(code=106002, message="app_key is invalid", status=401)
        try:
            stamp = int(params.get("timestamp", ""))
        except ValueError:
            return _answer(code=106003, message="timestamp is missing", status=401)
        if abs(stamp - platform.clock()) > TIMESTAMP_TOLERANCE:
            return _answer(code=106003, message="timestamp is out of range", status=401)
        # Multipart uploads are signed without their body, as on the platform.
        signed_body = b"" if request.mimetype == "multipart/form-data" else request.get_data()
        expected = api_signature(known.secret, request.path, params, signed_body)
        if not params.get("sign") or not _same(expected, params["sign"]):
            return _answer(code=106001, message="signature is invalid", status=401)
        try:
            shop = platform.shop_for_token(request.headers.get("x-tts-access-token") or "")
        except SimulatorError as error:
            return _answer(code=error.code, message=str(error), status=error.status)
        if shop.app_key != known.key:
            return _answer(code=105002, message="access token belongs to another app", status=401)
        if params.get("shop_cipher") and params["shop_cipher"] != shop.cipher:
            return _answer(code=106011, message="shop_cipher does not match the token's shop", status=400)
        g.state = shop.state
        with first.lock:
            if faults.fail_next > 0:
                faults.fail_next -= 1
                return _answer(code=1, message="service unavailable", status=503)
        return None

    @app.errorhandler(SimulatorError)
    def refused(error: SimulatorError) -> Response:
        return _answer(code=error.code, message=str(error), status=error.status)

    @app.post(api.RETURNS_SEARCH)
    def search_returns() -> Response:
        return _page(_state().search("returns", request.get_json(silent=True) or {}), "return_orders")

    @app.post(api.CANCELLATIONS_SEARCH)
    def search_cancellations() -> Response:
        return _page(_state().search("cancellations", request.get_json(silent=True) or {}), "cancellations")

    @app.post(api.ORDERS_SEARCH)
    def search_orders() -> Response:
        return _page(_state().search("orders", request.get_json(silent=True) or {}), "orders")

    @app.get(api.ORDERS_DETAIL)
    def orders() -> Response:
        ids = [i for i in (request.args.get("ids") or "").split(",") if i]
        with _state().lock:
            found = [dict(_state().orders[i]) for i in ids if i in _state().orders]
        return _answer({"orders": found})

    def _decide(return_id: str) -> Response:
        key = request.args.get("idempotency_key") or ""
        if not key:
            raise SimulatorError(36009011, "idempotency_key is required")
        body = request.get_json(silent=True) or {}
        fingerprint = hashlib.sha256(request.path.encode() + request.get_data()).hexdigest()
        extra = {"partial_refund": body["partial_refund"]} if body.get("partial_refund") else None
        if request.path.endswith("/reject"):
            extra = {"reject_comment": body.get("comment", "")}
        answer = _state().decide(return_id, str(body.get("decision") or ""), key, fingerprint, extra)
        with _state().lock:
            if faults.lose_answer_next > 0:
                faults.lose_answer_next -= 1
                return _answer(code=1, message="gateway timeout", status=504)
        return _answer(answer)

    @app.post("/return_refund/202309/returns/<return_id>/approve")
    def approve(return_id: str) -> Response:
        return _decide(return_id)

    @app.post("/return_refund/202309/returns/<return_id>/reject")
    def reject(return_id: str) -> Response:
        return _decide(return_id)

    @app.post(channels.CONVERSATIONS)
    def create_conversation() -> Response:
        body = request.get_json(silent=True) or {}
        user = str(body.get("buyer_user_id") or "")
        if not user:
            raise SimulatorError(12052905, "buyer_user_id is required")
        return _answer({"conversation_id": _state().conversation_with(user)["id"]})

    @app.get(channels.CONVERSATIONS)
    def list_conversations() -> Response:
        with _state().lock:
            rows = [
                {
                    "id": c["id"],
                    "create_time": c["create_time"],
                    "update_time": max([c["create_time"], *(m["create_time"] for m in c["messages"])]),
                    "participants": [
                        {
                            "role": "BUYER",
                            "user_id": c["buyer_user_id"],
                            "im_user_id": f"im{c['buyer_user_id']}",
                        },
                        {"role": "SHOP", "user_id": _state().shop_id},
                    ],
                    "unread_count": 0,
                }
                for c in sorted(_state().conversations.values(), key=lambda c: -c["create_time"])
            ]
        return _page(rows, "conversations")

    @app.get(f"{channels.CONVERSATIONS}/<conversation_id>/messages")
    def list_messages(conversation_id: str) -> Response:
        with _state().lock:
            conversation = _state().conversations.get(conversation_id)
            if conversation is None:
                raise SimulatorError(12052901, f"conversation {conversation_id} not found", 404)
            rows = [dict(m) for m in reversed(conversation["messages"])]
        return _page(rows, "messages")

    @app.post(f"{channels.CONVERSATIONS}/<conversation_id>/messages")
    def send_message(conversation_id: str) -> Response:
        key = request.args.get("idempotency_key") or ""
        if not key:
            raise SimulatorError(36009011, "idempotency_key is required")
        body = request.get_json(silent=True) or {}
        fingerprint = hashlib.sha256(request.path.encode() + request.get_data()).hexdigest()
        answer = _state().shop_sends(
            conversation_id, str(body.get("type") or ""), str(body.get("content") or ""), key, fingerprint
        )
        with _state().lock:
            if faults.lose_answer_next > 0:
                faults.lose_answer_next -= 1
                return _answer(code=1, message="gateway timeout", status=504)
        return _answer(answer)

    @app.post(channels.IMAGES_UPLOAD)
    def upload() -> Response:
        upload = request.files.get("data")
        if upload is None:
            raise SimulatorError(12052906, "data is required")
        data = upload.read()
        with _state().lock:
            file_id = _state()._id("f")
            _state().files[file_id] = (data, upload.mimetype or "application/octet-stream")
        return _answer({"url": f"{_state().base_url}/_files/{file_id}", "width": 0, "height": 0,
                        "name": upload.filename or "file"})

    @app.get("/_files/<file_id>")
    def file(file_id: str) -> Response:
        found = next((shop.state.files[file_id] for shop in platform.shops.values()
                      if file_id in shop.state.files), None)
        if found is None:
            return Response(status=404)
        return Response(found[0], mimetype=found[1])

    @app.get("/_simulator/conversations")
    def received() -> Response:
        """What the seller's app sent the buyers (of every shop, or of `shop_id`): for people and tests."""
        wanted = request.args.get("shop_id")
        return jsonify(messages=[m for shop_id, shop in platform.shops.items()
                                 if not wanted or wanted == shop_id
                                 for m in shop.state.shop_messages()])

    @app.post("/_simulator/shops/<shop_id>/deauthorise")
    def deauthorise(shop_id: str) -> Response:
        """De-authorise a shop on request (people trying the portal, tests): its tokens stop working and
        the de-authorisation notification waits to be delivered."""
        if shop_id not in platform.shops:
            return _answer(code=404, message="unknown shop", status=404)
        return _answer(platform.deauthorise(shop_id))

    @app.get(AUTHORIZE_PATH)
    def authorize_page() -> Response:
        """The seller's authorisation page: pick the shop to authorise the app for."""
        found = platform.apps.get(request.args.get("app_key") or "")
        state = request.args.get("state") or ""
        if found is None or not found.redirect_url:
            return Response("<h1>Unknown app</h1>", status=400, mimetype="text/html")
        rows = "".join(
            f'<form method="post"><input type="hidden" name="app_key" value="{escape(found.key)}">'
            f'<input type="hidden" name="state" value="{escape(state)}">'
            f'<input type="hidden" name="shop_id" value="{escape(shop.state.shop_id)}">'
            f'<button type="submit">Authorise {escape(shop.name)}</button></form>'
            for shop in platform.shops_of(found.key)
        )
        html = (f'<!doctype html><link rel="icon" href="data:,"><title>Authorise {escape(found.name)}</title>'
                f"<h1>Authorise {escape(found.name)}</h1><p>Choose the shop this app may manage.</p>{rows}")
        return Response(html, mimetype="text/html")

    @app.post(AUTHORIZE_PATH)
    def authorize() -> Response:
        found = platform.apps.get(request.form.get("app_key") or "")
        shop_id = request.form.get("shop_id") or ""
        if found is None or shop_id not in platform.shops:
            return Response("<h1>Unknown app or shop</h1>", status=400, mimetype="text/html")
        code = platform.issue_code(found.key, shop_id)
        query = urlencode({"code": code, "state": request.form.get("state") or "", "locale": "en"})
        return Response(status=302, headers={"Location": f"{found.redirect_url}?{query}"})

    @app.get(TOKEN_GET)
    def token_get() -> Response:
        args = request.args
        if args.get("grant_type") != "authorized_code":
            raise SimulatorError(36004001, "grant_type must be authorized_code")
        data = platform.exchange(
            args.get("app_key", ""), args.get("app_secret", ""), args.get("auth_code", "")
        )
        return _answer(data, message="success")

    @app.get(TOKEN_REFRESH)
    def token_refresh() -> Response:
        args = request.args
        if args.get("grant_type") != "refresh_token":
            raise SimulatorError(36004001, "grant_type must be refresh_token")
        data = platform.refresh_grant(
            args.get("app_key", ""), args.get("app_secret", ""), args.get("refresh_token", "")
        )
        return _answer(data, message="success")

    @app.get(AUTHORIZED_SHOPS)
    def authorized_shops() -> Response:
        shop = platform.shops[_state().shop_id]
        row = {"id": shop.state.shop_id, "name": shop.name, "region": shop.region, "seller_type": "LOCAL",
               "cipher": shop.cipher, "code": shop.state.shop_id[-6:]}
        return _answer({"shops": [row]})

    return app


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

"""The simulator's HTTP API: TikTok Shop's paths and answers, checking each request's signature."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from typing import Any

from flask import Flask, Response, jsonify, request

from portal.domain.conversations import channels
from portal.domain.marketplace import client as api
from portal.domain.marketplace.signing import api_signature
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
    state: MarketplaceState, app_key: str, app_secret: str, access_token: str = ""
) -> Flask:
    app = Flask("marketplace_simulator")
    bucket = {"tokens": 0.0, "at": time.monotonic()}
    bucket_lock = threading.Lock()

    @app.before_request
    def check() -> Response | None:
        if request.path.startswith("/_"):
            return None  # the CDN's files and the simulator's own inspection page are not API calls
        faults = state.faults
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
        if params.get("app_key") != app_key:
            return _answer(code=106002, message="app_key is invalid", status=401)
        try:
            stamp = int(params.get("timestamp", ""))
        except ValueError:
            return _answer(code=106003, message="timestamp is missing", status=401)
        if abs(stamp - state.clock()) > TIMESTAMP_TOLERANCE:
            return _answer(code=106003, message="timestamp is out of range", status=401)
        # Multipart uploads are signed without their body, as on the platform.
        signed_body = b"" if request.mimetype == "multipart/form-data" else request.get_data()
        expected = api_signature(app_secret, request.path, params, signed_body)
        if not params.get("sign") or not _same(expected, params["sign"]):
            return _answer(code=106001, message="signature is invalid", status=401)
        if access_token and request.headers.get("x-tts-access-token") != access_token:
            return _answer(code=105002, message="access token is invalid", status=401)
        with state.lock:
            if faults.fail_next > 0:
                faults.fail_next -= 1
                return _answer(code=1, message="service unavailable", status=503)
        return None

    @app.errorhandler(SimulatorError)
    def refused(error: SimulatorError) -> Response:
        return _answer(code=error.code, message=str(error), status=error.status)

    @app.post(api.RETURNS_SEARCH)
    def search_returns() -> Response:
        return _page(state.search("returns", request.get_json(silent=True) or {}), "return_orders")

    @app.post(api.CANCELLATIONS_SEARCH)
    def search_cancellations() -> Response:
        return _page(state.search("cancellations", request.get_json(silent=True) or {}), "cancellations")

    @app.post(api.ORDERS_SEARCH)
    def search_orders() -> Response:
        return _page(state.search("orders", request.get_json(silent=True) or {}), "orders")

    @app.get(api.ORDERS_DETAIL)
    def orders() -> Response:
        ids = [i for i in (request.args.get("ids") or "").split(",") if i]
        with state.lock:
            found = [dict(state.orders[i]) for i in ids if i in state.orders]
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
        answer = state.decide(return_id, str(body.get("decision") or ""), key, fingerprint, extra)
        with state.lock:
            if state.faults.lose_answer_next > 0:
                state.faults.lose_answer_next -= 1
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
        return _answer({"conversation_id": state.conversation_with(user)["id"]})

    @app.get(channels.CONVERSATIONS)
    def list_conversations() -> Response:
        with state.lock:
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
                        {"role": "SHOP", "user_id": state.shop_id},
                    ],
                    "unread_count": 0,
                }
                for c in sorted(state.conversations.values(), key=lambda c: -c["create_time"])
            ]
        return _page(rows, "conversations")

    @app.get(f"{channels.CONVERSATIONS}/<conversation_id>/messages")
    def list_messages(conversation_id: str) -> Response:
        with state.lock:
            conversation = state.conversations.get(conversation_id)
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
        answer = state.shop_sends(
            conversation_id, str(body.get("type") or ""), str(body.get("content") or ""), key, fingerprint
        )
        with state.lock:
            if state.faults.lose_answer_next > 0:
                state.faults.lose_answer_next -= 1
                return _answer(code=1, message="gateway timeout", status=504)
        return _answer(answer)

    @app.post(channels.IMAGES_UPLOAD)
    def upload() -> Response:
        upload = request.files.get("data")
        if upload is None:
            raise SimulatorError(12052906, "data is required")
        data = upload.read()
        with state.lock:
            file_id = state._id("f")
            state.files[file_id] = (data, upload.mimetype or "application/octet-stream")
        return _answer({"url": f"{state.base_url}/_files/{file_id}", "width": 0, "height": 0,
                        "name": upload.filename or "file"})

    @app.get("/_files/<file_id>")
    def file(file_id: str) -> Response:
        with state.lock:
            found = state.files.get(file_id)
        if found is None:
            return Response(status=404)
        return Response(found[0], mimetype=found[1])

    @app.get("/_simulator/conversations")
    def received() -> Response:
        """What the seller's app sent the buyers: for people and tests to look at."""
        return jsonify(messages=state.shop_messages())

    return app


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

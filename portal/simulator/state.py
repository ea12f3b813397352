"""The simulator's marketplace: orders, returns, cancellations in memory, and their notifications."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REQUESTED = {"RETURN_OR_REFUND_REQUEST_PENDING", "REPLACEMENT_REQUEST_PENDING"}
# What each seller decision does to a return, and the statuses it may be made in.
DECISIONS: dict[str, tuple[set[str], str]] = {
    "APPROVE_RETURN": (REQUESTED, "AWAITING_BUYER_SHIP"),
    "APPROVE_REPLACEMENT": (REQUESTED, "AWAITING_BUYER_SHIP"),
    "APPROVE_REFUND": (REQUESTED, "RETURN_OR_REFUND_REQUEST_SUCCESS"),
    "APPROVE_RECEIVED_PACKAGE": ({"BUYER_SHIPPED_ITEM"}, "RETURN_OR_REFUND_REQUEST_SUCCESS"),
    "OFFER_PARTIAL_REFUND": (REQUESTED | {"BUYER_SHIPPED_ITEM"}, "RETURN_OR_REFUND_REQUEST_SUCCESS"),
    "REJECT_REFUND": (REQUESTED, "REFUND_OR_RETURN_REQUEST_REJECT"),
    "REJECT_RETURN": (REQUESTED, "REFUND_OR_RETURN_REQUEST_REJECT"),
    "REJECT_REPLACEMENT": (REQUESTED, "REPLACEMENT_REQUEST_REJECT"),
}


class SimulatorError(Exception):
    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass
class Faults:
    """Trouble to cause on purpose: failed calls, lost answers, rate limits."""

    fail_next: int = 0  # answer 503 without doing anything
    lose_answer_next: int = 0  # do the work, then answer 504 as if the connection dropped
    requests_per_second: float | None = None


@dataclass
class MarketplaceState:
    shop_id: str
    # Notifications waiting to be delivered; the Notifier sends them (or drops them, on purpose).
    pending: list[dict[str, Any]] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    returns: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancellations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # idempotency key -> (request fingerprint, answer): a repeat gets the same answer and does nothing.
    idempotency: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    decisions: list[tuple[str, str, str]] = field(default_factory=list)  # (return id, decision, key)
    faults: Faults = field(default_factory=Faults)
    # Customer service: conversation id -> {"id", "buyer_user_id", "create_time", "messages": [...]}.
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Files uploaded for messages, served back at /_files/<id> as the platform's CDN would.
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _last_time: int = 0
    # Where the simulator is served, for the file addresses it hands out.
    base_url: str = "http://127.0.0.1"

    def _id(self, prefix: str) -> str:
        return f"{prefix}{int(self.clock()):010d}{next(self._ids):06d}"

    def _tick(self) -> int:
        # Each change gets a later update_time than the one before it, as the marketplace's do.
        self._last_time = max(int(self.clock()), self._last_time + 1)
        return self._last_time

    def _emit(self, kind: int, data: dict[str, Any], at: int) -> dict[str, Any]:
        envelope = {
            "type": kind,
            "tts_notification_id": self._id("7"),
            "shop_id": self.shop_id,
            "timestamp": at,
            "data": data,
        }
        self.pending.append(envelope)
        return envelope

    # ---- things that happen on the marketplace ------------------------------------------------------

    def add_order(
        self,
        *,
        region: str,
        currency: str,
        items: list[dict[str, Any]],
        user_id: str,
        buyer_name: str = "Sam B.",
        status: str = "DELIVERED",
        order_id: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            at = self._tick()
            order_id = order_id or self._id("58")
            total = sum(float(i["sale_price"]) * int(i.get("quantity", 1)) for i in items)
            order = {
                "id": order_id,
                "status": status,
                "user_id": user_id,
                "create_time": at - 7 * 86400,
                "update_time": at,
                "delivery_time": at - 86400 if status in {"DELIVERED", "COMPLETED"} else None,
                "payment": {"currency": currency, "total_amount": f"{total:.2f}"},
                "recipient_address": {"region_code": region, "name": buyer_name},
                "line_items": [{"id": f"li{order_id}{n}", **item} for n, item in enumerate(items)],
                "tracking_number": f"TT{order_id[-10:]}",
                "shipping_provider": "TikTok Shipping",
                "rts_time": at - 6 * 86400,
            }
            self.orders[order_id] = order
            return order

    def set_order_status(self, order_id: str, status: str) -> dict[str, Any]:
        with self.lock:
            order = self.orders[order_id]
            at = self._tick()
            order.update(status=status, update_time=at)
            return self._emit(
                1,
                {"order_id": order_id, "order_status": status, "is_on_hold_order": False, "update_time": at},
                at,
            )

    def request_return(
        self,
        order_id: str,
        return_type: str = "RETURN_AND_REFUND",
        reason: str = "ecom_order_delivered_refund_and_return_reason_wrong_size",
        note: str = "",
    ) -> dict[str, Any]:
        with self.lock:
            order = self.orders[order_id]
            at = self._tick()
            status = (
                "REPLACEMENT_REQUEST_PENDING"
                if return_type == "REPLACEMENT"
                else "RETURN_OR_REFUND_REQUEST_PENDING"
            )
            ret: dict[str, Any] = {
                "return_id": self._id("41"),
                "order_id": order_id,
                "return_type": return_type,
                "return_status": status,
                "return_reason": reason,
                "return_reason_text": note,
                "create_time": at,
                "update_time": at,
                "refund_amount": {
                    "currency": order["payment"]["currency"],
                    "refund_total": order["payment"]["total_amount"],
                },
                "return_line_items": [
                    {
                        "order_line_item_id": li["id"],
                        "seller_sku": li.get("seller_sku"),
                        "product_name": li.get("product_name"),
                    }
                    for li in order["line_items"]
                ],
            }
            self.returns[ret["return_id"]] = ret
            self._emit(12, self._return_data(ret), at)
            return ret

    def set_return_status(self, return_id: str, status: str, **extra: Any) -> dict[str, Any]:
        with self.lock:
            ret = self.returns[return_id]
            at = self._tick()
            ret.update(return_status=status, update_time=at, **extra)
            return self._emit(12, self._return_data(ret), at)

    def request_cancellation(
        self, order_id: str, status: str = "CANCELLATION_REQUEST_PENDING"
    ) -> dict[str, Any]:
        with self.lock:
            at = self._tick()
            cancel: dict[str, Any] = {
                "cancel_id": self._id("43"),
                "order_id": order_id,
                "cancel_status": status,
                "cancellations_role": "BUYER",
                "create_time": at,
                "update_time": at,
            }
            self.cancellations[cancel["cancel_id"]] = cancel
            self._emit(11, dict(cancel), at)
            return cancel

    def set_cancellation_status(self, cancel_id: str, status: str) -> dict[str, Any]:
        with self.lock:
            cancel = self.cancellations[cancel_id]
            at = self._tick()
            cancel.update(cancel_status=status, update_time=at)
            if status in {"CANCELLATION_REQUEST_SUCCESS", "CANCELLATION_REQUEST_COMPLETE"}:
                order = self.orders[cancel["order_id"]]
                order.update(status="CANCELLED", update_time=at)
            return self._emit(11, dict(cancel), at)

    @staticmethod
    def _return_data(ret: dict[str, Any]) -> dict[str, Any]:
        data = {
            k: ret[k]
            for k in ("order_id", "return_id", "return_type", "return_status", "create_time", "update_time")
        }
        for key in ("return_tracking_number", "return_provider_name"):
            if ret.get(key):
                data[key] = ret[key]
        return {"return_role": "BUYER", **data}

    # ---- what the seller's app asks through the API --------------------------------------------------

    def decide(
        self, return_id: str, decision: str, key: str, fingerprint: str, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        with self.lock:
            if key in self.idempotency:
                earlier, answer = self.idempotency[key]
                if earlier != fingerprint:
                    raise SimulatorError(36009010, "idempotency_key reused with a different request")
                return answer
            ret = self.returns.get(return_id)
            if ret is None:
                raise SimulatorError(25002, f"return {return_id} not found", 404)
            allowed = DECISIONS.get(decision)
            if allowed is None:
                raise SimulatorError(25003, f"unknown decision {decision}")
            if ret["return_status"] not in allowed[0]:
                raise SimulatorError(25001, f"return status {ret['return_status']} does not allow {decision}")
            self.decisions.append((return_id, decision, key))
            if extra:
                ret.update(extra)
            self.set_return_status(return_id, allowed[1])
            answer = {"return_id": return_id, "return_status": ret["return_status"]}
            self.idempotency[key] = (fingerprint, answer)
            return answer

    # ---- customer service ---------------------------------------------------------------------------

    def conversation_with(self, buyer_user_id: str) -> dict[str, Any]:
        """The shop's conversation with a buyer, opened when there is none (with its notification)."""
        with self.lock:
            for conversation in self.conversations.values():
                if conversation["buyer_user_id"] == buyer_user_id:
                    return conversation
            at = self._tick()
            conversation = {
                "id": self._id("73"),
                "buyer_user_id": buyer_user_id,
                "create_time": at,
                "messages": [],
            }
            self.conversations[conversation["id"]] = conversation
            self._emit(13, {"conversation_id": conversation["id"], "create_time": at}, at)
            return conversation

    def buyer_writes(
        self, buyer_user_id: str, text: str = "", image: bytes | None = None, image_type: str = "image/jpeg"
    ) -> dict[str, Any]:
        """The buyer sends a message (text, or an image) to the shop; the platform notifies the seller."""
        with self.lock:
            conversation = self.conversation_with(buyer_user_id)
            at = self._tick()
            if image is not None:
                file_id = self._id("f")
                self.files[file_id] = (image, image_type)
                kind, content = "IMAGE", {"url": f"{self.base_url}/_files/{file_id}", "width": 0, "height": 0}
            else:
                kind, content = "TEXT", {"content": text}
            message = {
                "id": self._id("75"),
                "type": kind,
                "content": json.dumps(content, ensure_ascii=False),
                "create_time": at,
                "sender": {"role": "BUYER", "im_user_id": f"im{buyer_user_id}"},
            }
            conversation["messages"].append(message)
            data = {
                "conversation_id": conversation["id"],
                "message_id": message["id"],
                "type": kind,
                "content": message["content"],
                "create_time": at,
                "sender": message["sender"],
            }
            return self._emit(14, data, at)

    def shop_sends(
        self, conversation_id: str, kind: str, content: str, key: str, fingerprint: str
    ) -> dict[str, Any]:
        """A message from the seller's app into a conversation; an idempotency key is delivered once."""
        with self.lock:
            if key in self.idempotency:
                earlier, answer = self.idempotency[key]
                if earlier != fingerprint:
                    raise SimulatorError(36009010, "idempotency_key reused with a different request")
                return answer
            conversation = self.conversations.get(conversation_id)
            if conversation is None:
                raise SimulatorError(12052901, f"conversation {conversation_id} not found", 404)
            if kind not in {"TEXT", "IMAGE", "FILE"}:
                raise SimulatorError(12052902, f"message type {kind} is not supported")
            try:
                parsed = json.loads(content)
            except ValueError:
                raise SimulatorError(12052903, "content must be a JSON string") from None
            if kind == "TEXT" and not str(parsed.get("content") or "").strip():
                raise SimulatorError(12052904, "a text message cannot be empty")
            at = self._tick()
            message = {
                "id": self._id("76"),
                "type": kind,
                "content": content,
                "create_time": at,
                "sender": {"role": "SHOP"},
                "idempotency_key": key,
            }
            conversation["messages"].append(message)
            answer = {"message_id": message["id"], "create_time": at}
            self.idempotency[key] = (fingerprint, answer)
            return answer

    def shop_messages(self) -> list[dict[str, Any]]:
        """Every message the shop sent, oldest first (what the simulator received)."""
        with self.lock:
            return [
                {**m, "conversation_id": c["id"], "buyer_user_id": c["buyer_user_id"]}
                for c in self.conversations.values()
                for m in c["messages"]
                if m["sender"]["role"] == "SHOP"
            ]

    def take_pending(self) -> list[dict[str, Any]]:
        with self.lock:
            taken, self.pending = self.pending, []
            return taken

    def search(self, collection: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        with self.lock:
            rows = list(getattr(self, collection).values())
        if filters.get("return_ids"):
            wanted = set(filters["return_ids"])
            return [r for r in rows if r["return_id"] in wanted]
        ge, lt = int(filters.get("update_time_ge") or 0), int(filters.get("update_time_lt") or 2**62)
        return sorted((r for r in rows if ge <= r["update_time"] < lt), key=lambda r: r["update_time"])

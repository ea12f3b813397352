"""A small client for the TikTok Shop Partner API: signed requests, paging, rate limits, idempotent writes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from portal.domain.marketplace.signing import api_signature

VERSION = "202309"
RETURNS_SEARCH = f"/return_refund/{VERSION}/returns/search"
CANCELLATIONS_SEARCH = f"/return_refund/{VERSION}/cancellations/search"
ORDERS_SEARCH = f"/order/{VERSION}/orders/search"
ORDERS_DETAIL = f"/order/{VERSION}/orders"


def approve_path(return_id: str) -> str:
    return f"/return_refund/{VERSION}/returns/{return_id}/approve"


def reject_path(return_id: str) -> str:
    return f"/return_refund/{VERSION}/returns/{return_id}/reject"


# The platform's answers about the token itself (expired, invalid, revoked), not about the request.
TOKEN_ERRORS = frozenset({105001, 105002, 105003, 36004004, 36004005, 36004006})


class MarketplaceError(Exception):
    """The marketplace refused a request or could not be reached.

    `retryable` says whether trying again later may work (timeouts, 5xx, rate limits) or not (a refusal).
    """

    @property
    def token_refused(self) -> bool:
        """Whether the shop's access token was refused: no call for that shop can work until it changes."""
        return self.code in TOKEN_ERRORS

    def __init__(
        self, message: str, code: int | None = None, status: int | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retryable = retryable


class RateLimited(MarketplaceError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, status=429, retryable=True)
        self.retry_after = retry_after


@dataclass
class MarketplaceClient:
    base_url: str
    app_key: str
    app_secret: str
    access_token: str = ""
    shop_cipher: str = ""
    timeout: float = 10.0
    # Retries inside one call, for rate limits and passing failures; the outbox retries across calls.
    max_retries: int = 3
    backoff_seconds: float = 0.5
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    http: requests.Session = field(default_factory=requests.Session)

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send one signed request and return its `data`; retries what is safe to retry."""
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode() if body is not None else b""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(method, path, dict(params or {}), raw)
            except RateLimited as error:
                if attempt > self.max_retries:
                    raise
                self.sleep(min(error.retry_after, 30.0))
            except MarketplaceError as error:
                # Reads are always safe to repeat, and every write carries an idempotency key.
                if not error.retryable or attempt > self.max_retries:
                    raise
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))

    def upload(self, path: str, data: bytes, filename: str, content_type: str) -> dict[str, Any]:
        """Upload a file as multipart form data (signed without the body, as the platform's uploads are)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once("POST", path, {}, b"", files={"data": (filename, data, content_type)})
            except MarketplaceError as error:
                if not error.retryable or attempt > self.max_retries:
                    raise
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))

    def _once(
        self, method: str, path: str, params: dict[str, Any], raw: bytes, files: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        query: dict[str, Any] = {"app_key": self.app_key, "timestamp": int(self.clock()), **params}
        if self.shop_cipher:
            query["shop_cipher"] = self.shop_cipher
        query["sign"] = api_signature(self.app_secret, path, query, raw)
        headers = {"x-tts-access-token": self.access_token}
        if files is None:
            headers["content-type"] = "application/json"
        try:
            response = self.http.request(
                method,
                self.base_url.rstrip("/") + path,
                params=query,
                data=raw or None,
                files=files,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise MarketplaceError(f"marketplace unreachable: {error}", retryable=True) from None
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After", "1")
            raise RateLimited(
                "rate limited by the marketplace",
                float(retry_after) if retry_after.replace(".", "", 1).isdigit() else 1.0,
            )
        if response.status_code >= 500:
            raise MarketplaceError(
                f"marketplace error HTTP {response.status_code}", status=response.status_code, retryable=True
            )
        try:
            payload = response.json()
        except ValueError:
            raise MarketplaceError(
                f"unreadable answer (HTTP {response.status_code})",
                status=response.status_code,
                retryable=response.status_code >= 500,
            ) from None
        code = payload.get("code")
        if response.status_code >= 400 or code not in (0, None):
            raise MarketplaceError(
                str(payload.get("message") or "refused"), code=code, status=response.status_code
            )
        return payload.get("data") or {}

    def _pages(self, path: str, key: str, body: dict[str, Any], page_size: int) -> Iterator[dict[str, Any]]:
        token = ""
        while True:
            params: dict[str, Any] = {"page_size": page_size}
            if token:
                params["page_token"] = token
            data = self.request("POST", path, params, body)
            yield from data.get(key) or []
            token = data.get("next_page_token") or ""
            if not token:
                return

    def search_returns(
        self,
        update_time_ge: int,
        update_time_lt: int,
        page_size: int = 50,
        return_ids: list[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        body: dict[str, Any] = {"update_time_ge": update_time_ge, "update_time_lt": update_time_lt}
        if return_ids:
            body = {"return_ids": return_ids}
        return self._pages(RETURNS_SEARCH, "return_orders", body, page_size)

    def get_return(self, return_id: str) -> dict[str, Any] | None:
        return next(iter(self.search_returns(0, 0, return_ids=[return_id])), None)

    def search_cancellations(
        self, update_time_ge: int, update_time_lt: int, page_size: int = 50
    ) -> Iterator[dict[str, Any]]:
        body = {"update_time_ge": update_time_ge, "update_time_lt": update_time_lt}
        return self._pages(CANCELLATIONS_SEARCH, "cancellations", body, page_size)

    def search_orders(
        self, update_time_ge: int, update_time_lt: int, page_size: int = 50
    ) -> Iterator[dict[str, Any]]:
        body = {"update_time_ge": update_time_ge, "update_time_lt": update_time_lt}
        return self._pages(ORDERS_SEARCH, "orders", body, page_size)

    def get_order(self, order_id: str) -> dict[str, Any] | None:
        orders = self.request("GET", ORDERS_DETAIL, {"ids": order_id}).get("orders") or []
        return orders[0] if orders else None

    def approve_return(
        self,
        return_id: str,
        decision: str,
        idempotency_key: str,
        partial_refund: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"decision": decision}
        if partial_refund:
            body["partial_refund"] = dict(partial_refund)
        return self.request("POST", approve_path(return_id), {"idempotency_key": idempotency_key}, body)

    def find_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """The customer-service conversation with this id, with its participants, or None."""
        return find_conversation(self, conversation_id)

    def reject_return(
        self, return_id: str, decision: str, reason: str, idempotency_key: str
    ) -> dict[str, Any]:
        body = {
            "decision": decision,
            "reject_reason": "seller_reject_apply_other_reason",
            "comment": reason[:500],
        }
        return self.request("POST", reject_path(return_id), {"idempotency_key": idempotency_key}, body)


CS_CONVERSATIONS = f"/customer_service/{VERSION}/conversations"
# Conversations are listed newest first; one that is not in the first pages is too old to matter.
CONVERSATION_PAGES = 10


def find_conversation(client: MarketplaceClient, conversation_id: str) -> dict[str, Any] | None:
    token = ""
    for _ in range(CONVERSATION_PAGES):
        params: dict[str, Any] = {"page_size": 20}
        if token:
            params["page_token"] = token
        data = client.request("GET", CS_CONVERSATIONS, params)
        for conversation in data.get("conversations") or []:
            if isinstance(conversation, dict) and str(conversation.get("id")) == conversation_id:
                return conversation
        token = data.get("next_page_token") or ""
        if not token:
            return None
    return None


def search_buyer_messages(
    client: MarketplaceClient, update_time_ge: int, update_time_lt: int
) -> Iterator[dict[str, Any]]:
    """Buyers' customer-service messages sent in the window, newest conversations first (bounded)."""
    token = ""
    for _ in range(CONVERSATION_PAGES):
        params: dict[str, Any] = {"page_size": 20}
        if token:
            params["page_token"] = token
        data = client.request("GET", CS_CONVERSATIONS, params)
        for conversation in data.get("conversations") or []:
            if not isinstance(conversation, dict):
                continue
            latest = int(conversation.get("update_time") or conversation.get("create_time") or 0)
            if latest < update_time_ge:
                continue
            conversation_id = str(conversation.get("id"))
            yield from _conversation_messages(client, conversation_id, update_time_ge, update_time_lt)
        token = data.get("next_page_token") or ""
        if not token:
            return


def _conversation_messages(
    client: MarketplaceClient, conversation_id: str, ge: int, lt: int
) -> Iterator[dict[str, Any]]:
    token = ""
    for _ in range(CONVERSATION_PAGES):
        params: dict[str, Any] = {"page_size": 50}
        if token:
            params["page_token"] = token
        data = client.request("GET", f"{CS_CONVERSATIONS}/{conversation_id}/messages", params)
        for message in data.get("messages") or []:  # newest first
            created = int(message.get("create_time") or 0) if isinstance(message, dict) else 0
            if created < ge:
                return
            sender = message.get("sender") if isinstance(message.get("sender"), dict) else {}
            if created < lt and str(sender.get("role") or "").upper() == "BUYER":
                yield {**message, "conversation_id": conversation_id, "update_time": created}
        token = data.get("next_page_token") or ""
        if not token:
            return


def client_from_config(config: Mapping[str, Any]) -> MarketplaceClient | None:
    """The configured client, or None when no marketplace API is configured."""
    if not config.get("TIKTOK_SHOP_API_URL") or not config.get("TIKTOK_SHOP_APP_SECRET"):
        return None
    return MarketplaceClient(
        base_url=config["TIKTOK_SHOP_API_URL"],
        app_key=config.get("TIKTOK_SHOP_APP_KEY", ""),
        app_secret=config["TIKTOK_SHOP_APP_SECRET"],
        access_token=config.get("TIKTOK_SHOP_ACCESS_TOKEN", ""),
    )

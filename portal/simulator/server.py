"""Serving the simulator on loopback, and delivering its notifications the way the platform does."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, make_server

from portal.domain.marketplace.signing import webhook_signature
from portal.simulator.app import create_simulator_app
from portal.simulator.platform import Platform
from portal.simulator.state import MarketplaceState

# Delivers one signed body; returns the HTTP status the receiver answered.
Deliver = Callable[[bytes, str], int]
# The platform gives up on a notification after this many failed deliveries.
DELIVERY_ATTEMPTS = 3


def http_deliverer(url: str, timeout: float = 3.0) -> Deliver:
    http = requests.Session()

    def deliver(body: bytes, signature: str) -> int:
        try:
            response = http.post(
                url,
                data=body,
                timeout=timeout,
                headers={"Authorization": signature, "Content-Type": "application/json"},
            )
        except requests.RequestException:
            return 0
        return response.status_code

    return deliver


@dataclass
class Notifier:
    """Signs and delivers the simulator's notifications; `drop` loses them on purpose."""

    state: MarketplaceState
    app_key: str
    app_secret: str
    deliver: Deliver
    drop: bool = False
    delivered: int = 0
    dropped: list[dict[str, Any]] = field(default_factory=list)

    def body(self, envelope: dict[str, Any]) -> tuple[bytes, str]:
        body = json.dumps(envelope, separators=(",", ":")).encode()
        return body, webhook_signature(self.app_key, self.app_secret, body)

    def flush(self) -> int:
        """Deliver what is pending; what fails every attempt is dropped, as on the platform."""
        sent = 0
        for envelope in self.state.take_pending():
            if self.drop:
                self.dropped.append(envelope)
                continue
            body, signature = self.body(envelope)
            if any(self.deliver(body, signature) == 200 for _ in range(DELIVERY_ATTEMPTS)):
                sent += 1
            else:
                self.dropped.append(envelope)
        self.delivered += sent
        return sent


@dataclass
class SimulatorServer:
    """The simulator's API on 127.0.0.1 in a background thread."""

    state: MarketplaceState
    app_key: str
    app_secret: str
    access_token: str = ""
    port: int = 0
    # Several shops, each with its own app and tokens; without it, `state` alone with the fixed token.
    platform: Platform | None = None
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start the simulator first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> SimulatorServer:
        platform = self.platform or Platform.single(
            self.state, self.app_key, self.app_secret, self.access_token
        )
        app = create_simulator_app(platform)
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        for shop in platform.shops.values():
            shop.state.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="marketplace-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

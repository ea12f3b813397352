"""Which API client speaks for which shop: each connected shop its own, the environment's for the rest."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import requests

from portal.domain.marketplace.client import MarketplaceClient


class ShopUnavailable(Exception):
    """The shop is known but may not be synced now (de-authorised, its token failed, not authorised yet)."""


@dataclass
class ShopClients:
    """API clients by the marketplace's shop id.

    `connected` holds shops connected in the portal; `blocked` the reason each stopped shop is not synced;
    `fallback` is the client configured through environment variables (one shop set up the old way),
    used for any shop without a connection of its own.
    """

    connected: dict[str, MarketplaceClient] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    fallback: MarketplaceClient | None = None

    @classmethod
    def single(cls, client: MarketplaceClient | None) -> ShopClients:
        return cls(fallback=client)

    def for_shop(self, shop_id: str) -> MarketplaceClient | None:
        """The client for this shop; raises ShopUnavailable for a shop that must not be synced now."""
        if shop_id in self.connected:
            return self.connected[shop_id]
        if shop_id in self.blocked:
            raise ShopUnavailable(self.blocked[shop_id])
        return self.fallback

    def copy(self) -> ShopClients:
        """The same clients with connections of their own, for another sending thread."""

        def fresh(client: MarketplaceClient) -> MarketplaceClient:
            return dataclasses.replace(client, http=requests.Session())

        return ShopClients(
            connected={shop: fresh(client) for shop, client in self.connected.items()},
            blocked=dict(self.blocked),
            fallback=fresh(self.fallback) if self.fallback is not None else None,
        )

    def close(self) -> None:
        for client in {id(c): c for c in [*self.connected.values(), self.fallback] if c}.values():
            client.http.close()

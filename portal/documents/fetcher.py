"""What a PDF being rendered may load: case exhibits from the attachment store and the app's static files."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from weasyprint.urls import URLFetcher, URLFetcherResponse

ATTACHMENT_SCHEME = "attachment:"
STATIC_SCHEME = "static:"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_STATIC_TYPES = {".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml"}


class RefusedURL(ValueError):
    """A document asked for something outside the attachment store and the static folder."""


class StoreOnlyFetcher(URLFetcher):
    """Serves `attachment:<sha256>` (this document's exhibits only) and `static:<path>`; refuses the rest.

    No network, no `file:`, no `data:`: whatever a buyer manages to smuggle into a document, it loads nothing.
    """

    def __init__(self, store_root: str | Path, static_root: str | Path, allowed: Iterable[str] = ()) -> None:
        super().__init__(timeout=1, allowed_protocols=())
        self.store_root = Path(store_root).resolve()
        self.static_root = Path(static_root).resolve()
        self.allowed = frozenset(allowed)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        if url.startswith(ATTACHMENT_SCHEME):
            digest = url[len(ATTACHMENT_SCHEME) :]
            if _SHA256.match(digest) and digest in self.allowed:
                path = self.store_root / digest[:2] / digest[2:4] / digest
                return URLFetcherResponse(url, body=path.read_bytes())
        elif url.startswith(STATIC_SCHEME):
            path = (self.static_root / url[len(STATIC_SCHEME) :].lstrip("/")).resolve()
            if path.is_relative_to(self.static_root) and path.suffix in _STATIC_TYPES and path.is_file():
                return URLFetcherResponse(
                    url, body=path.read_bytes(), headers={"Content-Type": _STATIC_TYPES[path.suffix]}
                )
        self.refused.append(url[:200])
        raise RefusedURL(f"refused to load {url[:200]!r}: documents may only use the attachment store")

"""JSON from outside (webhooks, notifications): UTF-8 only, of a sane depth, with a sentence when not."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


class UnreadableBody(ValueError):
    """The body is not UTF-8 JSON of a sane depth; the message says which."""


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def load_json(body: bytes) -> Any:
    """The JSON document in `body`; UnreadableBody unless it is UTF-8 JSON at most MAX_DEPTH deep."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableBody("the body is not UTF-8 text") from None
    if text.startswith("\ufeff"):
        raise UnreadableBody("the body starts with a byte order mark; send UTF-8 without one")
    try:
        document = json.loads(text)
    except RecursionError:  # the C parser stops safely at the interpreter's recursion limit
        raise UnreadableBody(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError:
        raise UnreadableBody("the body is not JSON") from None
    if _depth(document) > MAX_DEPTH:
        raise UnreadableBody(f"the JSON is nested more than {MAX_DEPTH} levels deep")
    return document

"""The facts a decision was made on, stored with it as a short JSON array, and read back in bulk."""

from __future__ import annotations

import json
import json.scanner
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rules.decision import json_value
from rules.runtime import raw

# Positions in the stored array, after the format number. Append only: a stored array is read with
# the list of its own format, and a field added to the language goes at the end of a new format.
FORMATS: dict[int, tuple[str, ...]] = {
    1: (
        "type", "reason", "value", "currency", "market", "value_usd", "sku", "category", "item.customized",
        "item.quantity", "channel", "campaign", "days_since_order", "days_since_delivery", "hours_open",
        "buyer.orders", "buyer.returns_90d", "buyer.first_order", "tracking.status", "return.status",
        "return.days_in_transit", "inspection.result", "evidence.photos", "evidence.videos",
    ),
}
FORMATS[2] = (*FORMATS[1], "evidence.from")
FORMATS[3] = (*FORMATS[2], "return_insurance")
CURRENT = 3
# The C scanner alone: json.loads wraps it in a Python method and two regular expressions per call.
_SCAN = json.scanner.make_scanner(json.JSONDecoder(parse_float=Decimal))  # type: ignore[attr-defined, arg-type]


def _token(value: Any) -> str:
    """One value as JSON; a Decimal stays a plain number, so that reading it back gives the same Decimal."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, Decimal) and value.is_finite():
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(json_value(value), ensure_ascii=False)


def encode(facts: Mapping[str, Any]) -> str:
    """`[1,"return_and_refund","size",12.50,…]`: the format, then each field in order, null when missing."""
    fields = FORMATS[CURRENT]
    last = len(fields)
    values = [raw(facts, name) for name in fields]
    while last and values[last - 1] is None:
        last -= 1
    return "[" + ",".join([str(CURRENT), *(_token(v) for v in values[:last])]) + "]"


def decode(text: str) -> dict[str, Any]:
    """Facts with flat dotted keys (`"buyer.orders": 3`); a missing one is None, as `rules` reads it."""
    values = _SCAN(text.strip(), 0)[0]
    return dict(zip(FORMATS[values[0]], values[1:], strict=False))

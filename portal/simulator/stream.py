"""`flask --app wsgi demo stream`: the simulator on loopback, sending the demo shop signed notifications."""

from __future__ import annotations

import logging
import random
import time
from decimal import Decimal
from typing import Any

import click
from flask import current_app
from sqlalchemy import select

from portal.db import get_db
from portal.domain.models import Product
from portal.simulator.server import Notifier, SimulatorServer, http_deliverer
from portal.simulator.state import MarketplaceState

# The demo shop's markets as the marketplace names them, with their currencies and rough USD rates.
REGIONS = [
    ("US", "USD", Decimal("1")),
    ("GB", "GBP", Decimal("0.79")),
    ("DE", "EUR", Decimal("0.92")),
    ("MY", "MYR", Decimal("4.4")),
]
REASONS = [
    "ecom_order_delivered_refund_and_return_reason_wrong_size",
    "ecom_order_delivered_refund_and_return_reason_damaged",
    "ecom_order_delivered_refund_and_return_reason_not_as_described",
    "ecom_order_delivered_refund_and_return_reason_changed_mind",
    "ecom_order_delivered_refund_and_return_reason_color_differs",
]
NAMES = ["Ava R.", "Liam T.", "Noah K.", "Mia S.", "Lena W.", "Jonas F.", "Aisyah M.", "Wei Jie T."]


def _products() -> list[dict[str, Any]]:
    session = get_db().session()
    try:
        rows = session.scalars(select(Product).limit(200)).all()
        return [
            {"seller_sku": p.sku, "product_name": p.title, "category": p.category, "usd": p.base_price_usd}
            for p in rows
        ]
    finally:
        session.close()


BUYER_ANSWERS = (
    "Thanks! Here is what I can tell you: the seam opened after one wash.",
    "OK, I will ship it tomorrow.",
    "Thank you for the quick answer.",
    "Is there a label I can print?",
)


def _chat(state: MarketplaceState, rng: random.Random, seen: set[str]) -> list[str]:
    """What the shop wrote to buyers since the last step; now and then a buyer answers."""
    lines = []
    for message in state.shop_messages():
        if message["id"] in seen:
            continue
        seen.add(message["id"])
        text = str(message["content"])[:90]
        lines.append(f"shop wrote to buyer {message['buyer_user_id']} ({message['type']}): {text}")
        if message["type"] == "TEXT" and rng.random() < 0.5:
            state.buyer_writes(message["buyer_user_id"], rng.choice(BUYER_ANSWERS))
            lines.append(f"buyer {message['buyer_user_id']} answered")
    return lines


def _step(state: MarketplaceState, rng: random.Random, products: list[dict[str, Any]]) -> str:
    """One believable thing happening on the marketplace."""
    waiting = [r for r in state.returns.values() if r["return_status"] == "AWAITING_BUYER_SHIP"]
    if waiting and rng.random() < 0.35:
        ret = rng.choice(waiting)
        state.set_return_status(
            ret["return_id"],
            "BUYER_SHIPPED_ITEM",
            return_tracking_number=f"1Z{rng.randrange(10**12):012d}",
            return_provider_name=rng.choice(["UPS", "FedEx", "DHL"]),
        )
        return f"buyer shipped return {ret['return_id']}"
    pending = [r for r in state.returns.values() if r["return_status"].endswith("REQUEST_PENDING")]
    if pending and rng.random() < 0.1:
        ret = rng.choice(pending)
        state.set_return_status(ret["return_id"], "RETURN_OR_REFUND_REQUEST_CANCEL")
        return f"buyer withdrew return {ret['return_id']}"
    region, currency, rate = rng.choice(REGIONS)
    product = (
        rng.choice(products)
        if products
        else {
            "seller_sku": "DEMO-TEE",
            "product_name": "Cotton tee",
            "category": "apparel",
            "usd": Decimal("19.90"),
        }
    )
    price = (Decimal(str(product["usd"])) * rate).quantize(Decimal("0.01"))
    item = {k: product[k] for k in ("seller_sku", "product_name", "category")}
    order = state.add_order(
        region=region,
        currency=currency,
        items=[{**item, "sale_price": str(price)}],
        user_id=f"demo{rng.randrange(10**9)}",
        buyer_name=rng.choice(NAMES),
    )
    if rng.random() < 0.15:
        state.set_order_status(order["id"], "COMPLETED")
        return f"order {order['id']} completed"
    kind = rng.choices(["RETURN_AND_REFUND", "REFUND", "REPLACEMENT"], [0.6, 0.3, 0.1])[0]
    ret = state.request_return(order["id"], kind, rng.choice(REASONS))
    return f"{kind.lower()} requested on order {order['id']} ({ret['return_id']})"


@click.command("stream")
@click.option(
    "--portal",
    "portal_url",
    default="http://127.0.0.1:5000",
    show_default=True,
    help="Where the portal runs; notifications go to its /webhooks/tiktok-shop.",
)
@click.option("--port", default=5081, show_default=True, help="Loopback port of the marketplace simulator.")
@click.option("--every", default=8.0, show_default=True, help="Seconds between marketplace happenings.")
@click.option("--count", default=0, help="Stop after this many happenings (0: run until Ctrl-C).")
def demo_stream(portal_url: str, port: int, every: float, count: int) -> None:
    """Run the marketplace simulator and send the demo shop a realistic trickle of signed notifications.

    The portal must use the same app key and secret, and TIKTOK_SHOP_API_URL must point at the simulator
    (http://127.0.0.1:PORT) so the portal can fetch orders and send its decisions back.
    """
    from portal.demo.catalog_data import SHOP_EXTERNAL_ID

    config = current_app.config
    if not config["TIKTOK_SHOP_APP_KEY"] or not config["TIKTOK_SHOP_APP_SECRET"]:
        raise click.ClickException(
            "Set TIKTOK_SHOP_APP_KEY and TIKTOK_SHOP_APP_SECRET (`make demo-stream` does)."
        )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per happening is enough
    state = MarketplaceState(shop_id=SHOP_EXTERNAL_ID)
    key, secret = config["TIKTOK_SHOP_APP_KEY"], config["TIKTOK_SHOP_APP_SECRET"]
    server = SimulatorServer(state, key, secret, config["TIKTOK_SHOP_ACCESS_TOKEN"], port=port).start()
    webhook = portal_url.rstrip("/") + "/webhooks/tiktok-shop"
    notifier = Notifier(state, key, secret, http_deliverer(webhook))
    click.echo(f"Marketplace simulator on {server.url}; notifications go to {webhook}. Ctrl-C stops.")
    rng = random.Random()
    products = _products()
    done = 0
    seen: set[str] = set()
    try:
        while not count or done < count:
            for line in _chat(state, rng, seen):
                click.echo(f"{time.strftime('%H:%M:%S')} {line}")
            what = _step(state, rng, products)
            sent = notifier.flush()
            lost = len(notifier.dropped)
            click.echo(
                f"{time.strftime('%H:%M:%S')} {what}; delivered {sent}"
                + (f", {lost} undelivered" if lost else "")
            )
            done += 1
            time.sleep(every)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()

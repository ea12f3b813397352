"""Building the demo shop: markets, return addresses, exchange rates, products with pictures, campaigns."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from portal.demo import images
from portal.demo.catalog_data import (
    AD_CAMPAIGNS,
    CATEGORY_CODES,
    CATEGORY_SKUS,
    COMPANY_NAME,
    MARKETS,
    OTHER_CAMPAIGNS,
    PRICE_BANDS,
    PRODUCT_LINES,
    RETURN_ADDRESSES,
    SHOP_EXTERNAL_ID,
    SHOP_NAME,
    USD_RATES,
)
from portal.demo.world import World, money
from portal.domain.enums import AddressKind, Channel
from portal.domain.models import Campaign, ExchangeRate, Market, Product, ReturnAddress, Shop


def build_shop(world: World) -> None:
    shop = Shop(name=SHOP_NAME, company_name=COMPANY_NAME, platform="tiktok_shop",
                external_shop_id=SHOP_EXTERNAL_ID, created_at=world.now - timedelta(days=420))
    world.shop = shop
    for spec in MARKETS:
        market = Market(shop=shop, code=spec.code, name=spec.name, currency=spec.currency,
                        timezone=spec.timezone, language=spec.language,
                        return_window_days=spec.return_window_days)
        world.markets[spec.code] = market
        world.specs[spec.code] = spec
        world.addresses[spec.code] = []
    for addr in RETURN_ADDRESSES:
        row = ReturnAddress(market=world.markets[addr.market], kind=AddressKind(addr.kind), label=addr.label,
                            recipient=f"{COMPANY_NAME} Returns", street=addr.street, city=addr.city,
                            region=addr.region, postcode=addr.postcode, country=addr.country,
                            phone=addr.phone, carriers=addr.carriers, is_default=addr.is_default)
        bucket = world.addresses[addr.market]
        bucket.insert(0, row) if addr.is_default else bucket.append(row)
    world.session.add(shop)
    world.counts.update(shops=1, markets=len(MARKETS), return_addresses=len(RETURN_ADDRESSES))
    _ensure_rates(world)


def _ensure_rates(world: World) -> None:
    # Rates are global rows keyed by currency; an installation may already have configured them.
    for currency, rate in USD_RATES.items():
        row = world.session.get(ExchangeRate, currency)
        if row is None:
            world.session.add(ExchangeRate(currency=currency, usd_per_unit=rate))
            world.counts["exchange_rates"] += 1
        world.rates[currency] = row.usd_per_unit if row is not None else rate


def _usd_price(world: World, low: int, high: int) -> Decimal:
    # Most of a range sells at its cheap end; prices end in .99 like a real listing.
    raw = world.rng.triangular(low, high, low + (high - low) * 0.2)
    if raw >= 100:
        return money(Decimal(round(raw / 10) * 10) - Decimal("0.01"))
    return money(Decimal(max(low, min(high - 1, int(raw)))) + Decimal("0.99"))


def _sku_counts(scale: float) -> dict[str, int]:
    total = max(10, round(sum(CATEGORY_SKUS.values()) * scale))
    whole = sum(CATEGORY_SKUS.values())
    counts = {cat: max(1, round(n * total / whole)) for cat, n in CATEGORY_SKUS.items()}
    # Jewelry carries the policy's interesting cases (cheap, engraved, high value): give it three lines.
    counts["jewelry"] = max(counts["jewelry"], 3)
    return counts


def build_products(world: World, scale: float) -> None:
    rng = world.rng
    for category, count in _sku_counts(scale).items():
        lines = [line for line in PRODUCT_LINES if line.category == category]
        combos = [[(name, variant) for name in line.names for variant in line.variants] for line in lines]
        for combo in combos:
            rng.shuffle(combo)
        numbers = rng.sample(range(1001, 1999), count)
        for i in range(count):
            # Round the product lines, skipping any whose name and variant pairs are used up.
            index = next(j % len(lines) for j in range(i, i + len(lines)) if combos[j % len(lines)])
            line, (name, variant) = lines[index], combos[index].pop()
            if category in ("jewelry", "beauty") and not line.customizable:
                title = f"{variant} {name}" if category == "jewelry" else f"{name} – {variant}"
            else:
                title = f"{name} – {variant}"
            sku = f"LC-{CATEGORY_CODES[category]}-{numbers[i]}"
            product = Product(id=world.new_id(Product), shop_id=world.shop_id, sku=sku, title=title,
                              category=category,
                              base_price_usd=_usd_price(world, *PRICE_BANDS.get(name, (line.low, line.high))),
                              customizable=line.customizable)
            product.image_sha256 = world.attach(images.product_image(sku, title, category, i))
            world.products.append(product)
    world.session.add_all(world.products)
    world.counts["products"] = len(world.products)


def build_campaigns(world: World) -> None:
    rng = world.rng
    for theme, name, weight in AD_CAMPAIGNS:
        launched = world.now - timedelta(days=rng.randint(20, 75))
        world.ad_campaigns.append(Campaign(shop_id=world.shop_id, external_id=f"CMP-{launched:%y%m}-{theme}",
                                           name=name, channel=Channel.AD))
        world.ad_weights.append(weight)
    for channel, pattern, name in OTHER_CAMPAIGNS:
        launched = world.now - timedelta(days=rng.randint(10, 60))
        campaign = Campaign(shop_id=world.shop_id, external_id=pattern.format(ym=f"{launched:%y%m}"),
                            name=name, channel=Channel(channel))
        world.other_campaigns.setdefault(channel, []).append(campaign)
    every = world.ad_campaigns + [c for group in world.other_campaigns.values() for c in group]
    world.session.add_all(every)
    world.counts["campaigns"] = len(every)

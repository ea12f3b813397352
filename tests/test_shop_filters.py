"""Queue, analytics and evidence-pack exports filter by shop when the portal has more than one."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from support.factories import make_case, shop_with_market

from portal.documents.export import ExportFilter, export_query
from portal.domain.enums import Role


def _two_shops(db: Session) -> tuple[int, int]:
    us_shop, us = shop_with_market(db, code="US")
    uk_shop, uk = shop_with_market(db, code="UK", currency="GBP")
    us_shop.name, uk_shop.name = "Lumen US", "Lumen UK"
    make_case(db, us, number="AS-900001")
    make_case(db, uk, number="AS-900002")
    db.commit()
    return us_shop.id, uk_shop.id


def test_the_queue_filters_by_shop(login: Callable[[Role], FlaskClient], db: Session) -> None:
    us_id, uk_id = _two_shops(db)
    agent = login(Role.CS_AGENT)
    everything = agent.get("/cases").get_data(as_text=True)
    assert "AS-900001" in everything and "AS-900002" in everything
    assert '<select name="shop">' in everything and "Lumen UK" in everything
    only_uk = agent.get(f"/cases?shop={uk_id}").get_data(as_text=True)
    assert "AS-900002" in only_uk and "AS-900001" not in only_uk
    # Anything but a shop id is ignored, not an error.
    assert "AS-900001" in agent.get("/cases?shop=drop%20table").get_data(as_text=True)


def test_one_shop_needs_no_shop_filter(login: Callable[[Role], FlaskClient], db: Session) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-900003")
    db.commit()
    assert '<select name="shop">' not in login(Role.CS_AGENT).get("/cases").get_data(as_text=True)


def test_analytics_takes_the_shops_market(login: Callable[[Role], FlaskClient], db: Session) -> None:
    us_id, uk_id = _two_shops(db)
    ops = login(Role.OPS_MANAGER)
    page = ops.get(f"/analytics?shop={uk_id}").get_data(as_text=True)
    assert '<select name="shop">' in page
    assert 'value="UK" selected' in page and 'value="US" selected' not in page
    # A code the shop does not serve is refused with a reason.
    refused = ops.get(f"/analytics?shop={uk_id}&market=US")
    assert "There is no market US" in refused.get_data(as_text=True)


def test_exports_filter_by_shop(db: Session) -> None:
    us_id, uk_id = _two_shops(db)
    assert len(db.execute(export_query(ExportFilter())).all()) == 2
    chosen = ExportFilter.from_params(ExportFilter(shop=str(uk_id)).to_params())
    assert chosen.shop == str(uk_id)
    assert len(db.execute(export_query(chosen)).all()) == 1


def test_the_export_form_offers_shops(login: Callable[[Role], FlaskClient], db: Session) -> None:
    _two_shops(db)
    page = login(Role.AUDITOR).get("/audit/exports").get_data(as_text=True)
    assert 'name="shop"' in page and "Lumen UK" in page

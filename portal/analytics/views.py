"""The analytics pages: the dashboard for a period and market, and each of its tables as CSV."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import click
from flask import Blueprint, Response, abort, request
from flask.cli import with_appcontext
from flask.typing import ResponseReturnValue
from flask_babel import get_timezone
from flask_babel import gettext as _
from sqlalchemy import select

from portal.access import allow
from portal.analytics import tables as tb
from portal.csv_export import SafeWriter
from portal.db import db_session, get_db
from portal.domain import analytics as an
from portal.domain import analytics_build
from portal.domain.enums import Role
from portal.domain.lookups import shop_names
from portal.domain.models import Market
from portal.domain.types import utcnow
from portal.rendering import render

bp = Blueprint("analytics", __name__, url_prefix="/analytics", cli_group="analytics")

# Ops managers steer with these numbers; admins run the shop; auditors (finance, compliance) read refund
# cost against revenue and dispute outcomes. The page shows aggregates only, no buyer's data.
READERS = (Role.OPS_MANAGER, Role.ADMIN, Role.AUDITOR)
DEFAULT_DAYS = 30
PRESETS = (7, 30, 90, 365)
MAX_DAYS = 366
# How long a request waits for out-of-date days to be rebuilt; the scheduler does the rest within a minute.
REFRESH_SECONDS = 3.0


def _today() -> date:
    """Today in the viewer's time zone: "the last 7 days" end on the day they are living."""
    return utcnow().astimezone(get_timezone()).date()


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _selection(args: Any) -> tuple[an.Period, Market | None, list[str]]:
    """The period and market asked for, or the defaults with the reasons the request was refused."""
    today = _today()
    errors: list[str] = []
    period = an.Period(today - timedelta(days=DEFAULT_DAYS - 1), today)
    days = args.get("days", "")
    if days.isdigit() and 1 <= int(days) <= MAX_DAYS:
        period = an.Period(today - timedelta(days=int(days) - 1), today)
    elif days:
        errors.append(_("Choose a period of 1 to %(days)s days.", days=MAX_DAYS))
    start_text, end_text = args.get("from", "")[:10], args.get("to", "")[:10]
    if start_text or end_text:
        start, end = _date(start_text), _date(end_text)
        if start is None or end is None:
            errors.append(_("Give both dates of the period as year-month-day."))
        elif start > end:
            errors.append(_("The period must start before it ends."))
        elif (end - start).days + 1 > MAX_DAYS:
            errors.append(_("Choose a period of 1 to %(days)s days.", days=MAX_DAYS))
        else:
            period = an.Period(start, end)
    market = None
    code = args.get("market", "")[:2]
    # A shop narrows the market to its own (two shops may both sell into the UK); figures are per market.
    shop = args.get("shop", "")[:12]
    markets = select(Market).where(Market.shop_id == int(shop)) if shop.isdigit() else select(Market)
    if code:
        market = db_session().scalar(markets.where(Market.code == code).order_by(Market.id).limit(1))
        if market is None:
            errors.append(_("There is no market %(code)s.", code=code))
    elif shop.isdigit():
        found = db_session().scalars(markets.limit(2)).all()
        if len(found) == 1:
            market = found[0]
        else:
            errors.append(_("Choose one of the shop's markets."))
    return period, market, errors


def _context() -> dict[str, Any]:
    session = db_session()
    period, market, errors = _selection(request.args)
    markets = list(session.scalars(select(Market).order_by(Market.code)))
    context: dict[str, Any] = {
        "period": period,
        "market": market,
        "markets": markets,
        "shops": shop_names(session),
        "shop": request.args.get("shop", "")[:12],
        "errors": errors,
        "presets": PRESETS,
        "today": _today(),
        "selection": {
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "market": market.code if market else None,
        },
    }
    if errors:
        return context
    market_id = market.id if market else None
    waiting = len(analytics_build.dirty_pairs(session, period.start, period.end, market_id))
    done = analytics_build.refresh_dirty(
        session, period.start, period.end, market_id, seconds=REFRESH_SECONDS
    )
    figs = an.figures(session, period, market_id)
    context.update(
        figs=figs,
        tables=tb.build(figs, market.code if market else ""),
        behind=max(0, waiting - done),
        fmt=tb.fmt,
        kpis=_kpis(figs, tb.Links(period, market.code if market else "")),
    )
    return context


@dataclass(frozen=True)
class Kpi:
    """A card at the top: its figure links to the queue showing exactly the `cases` behind it."""

    heading: str
    figure: str
    detail: str
    href: str | None = None
    cases: int | None = None


def _kpis(figs: an.Figures, links: tb.Links) -> list[Kpi]:
    t = figs.total
    usd = figs.refund_usd
    refunds = sum((usd.amounts[k] for k in an.REFUND_KINDS), Decimal(0))
    people = figs.durations.get("person_response", {})
    anyone = figs.durations.get("first_response", {})
    refunds_t = figs.durations.get("refund", {})
    half, ninety = Decimal("0.5"), Decimal("0.9")
    decided = t.n("disputes_won") + t.n("disputes_lost")

    def count(n: int) -> str:
        return tb.fmt("int", n)

    return [
        Kpi(
            _("Return rate"),
            tb.fmt("pct", t.return_rate),
            _("%(cases)s cases / %(orders)s orders", cases=count(t.n("cases")), orders=count(t.n("orders"))),
            links.queue(),
            t.n("cases"),
        ),
        Kpi(
            _("Refund cost"),
            tb.fmt("usd", refunds),
            _(
                "%(share)s of revenue; %(cases)s cases refunded",
                share=tb.fmt("pct", an.ratio(refunds, usd.amounts["revenue"])),
                cases=count(t.n("cases_refunded")),
            ),
            links.queue(has="refund"),
            t.n("cases_refunded"),
        ),
        Kpi(
            _("Decided automatically"),
            tb.fmt("pct", an.ratio(t.n("auto_cases"), t.n("cases"))),
            _("%(count)s cases by policy rules", count=count(t.n("auto_cases"))),
            links.queue(has="auto"),
            t.n("auto_cases"),
        ),
        Kpi(
            _("First response by a person"),
            tb.fmt("minutes", an.percentile(people, half)),
            _(
                "median of %(cases)s cases; 90%% within %(p90)s. Automated messages included: %(any)s",
                cases=count(sum(people.values())),
                p90=tb.fmt("minutes", an.percentile(people, ninety)),
                any=tb.fmt("minutes", an.percentile(anyone, half)),
            ),
            links.queue(has="person_reply"),
            sum(people.values()),
        ),
        Kpi(
            _("Time to refund"),
            tb.fmt("minutes", an.percentile(refunds_t, half)),
            _(
                "median of %(cases)s cases; 90%% within %(p90)s",
                cases=count(sum(refunds_t.values())),
                p90=tb.fmt("minutes", an.percentile(refunds_t, ninety)),
            ),
            links.queue(has="money_refund"),
            sum(refunds_t.values()),
        ),
        Kpi(
            _("Cases with a missed deadline"),
            count(t.n("cases_missed")),
            _(
                "%(missed)s of %(count)s platform deadlines missed",
                missed=count(t.n("deadlines_missed")),
                count=count(t.n("deadlines")),
            ),
            links.queue(has="missed_deadline"),
            t.n("cases_missed"),
        ),
        Kpi(
            _("Cases disputed"),
            count(t.n("cases_disputed")),
            _(
                "%(won)s won, %(lost)s lost (%(rate)s)",
                won=count(t.n("disputes_won")),
                lost=count(t.n("disputes_lost")),
                rate=tb.fmt("pct", an.ratio(t.n("disputes_won"), decided)),
            ),
            links.queue(has="dispute"),
            t.n("cases_disputed"),
        ),
        # Parcels belong to orders, most of which have no case: there is no list of cases to open.
        Kpi(
            _("Logistics exceptions"),
            tb.fmt("pct", an.ratio(t.n("exceptions"), t.n("shipments"))),
            _(
                "%(count)s of %(parcels)s parcels",
                count=count(t.n("exceptions")),
                parcels=count(t.n("shipments")),
            ),
        ),
    ]


@bp.get("")
@allow(READERS)
def dashboard() -> ResponseReturnValue:
    context = _context()
    return render(
        "analytics/dashboard.html",
        "analytics/partials/_body.html",
        status=400 if context["errors"] else 200,
        **context,
    )


@bp.get("/<table>.csv")
@allow(READERS)
def table_csv(table: str) -> ResponseReturnValue:
    context = _context()
    if context["errors"]:
        return Response("\n".join(context["errors"]) + "\n", status=400, mimetype="text/plain")
    name = table
    found = context["tables"].get(name)
    if found is None:
        abort(404)
    out = io.StringIO()
    out.write("\ufeff")  # spreadsheet programs then read the Chinese headings as UTF-8
    writer = SafeWriter(out)
    money = any(c.kind == "money" for c in found.columns)
    writer.writerow([c.heading for c in found.columns] + ([_("Currency")] if money else []))
    for row in found.rows:
        cells = [tb.csv_value(c.kind, row.get(c.key)) for c in found.columns]
        writer.writerow(cells + ([row.get("currency", "")] if money else []))
    period, market = context["period"], context["market"]
    filename = f"analytics-{name}-{period.start}-{period.end}{'-' + market.code if market else ''}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.cli.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Build every analytics rollup from scratch."""
    session = get_db().session()
    try:
        done = analytics_build.rebuild_everything(session)
    finally:
        session.close()
    click.echo(f"Rebuilt {done} market-days of analytics.")

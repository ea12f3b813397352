"""Importing seller-center exports of orders and returns: upload, mapping, validation, one-transaction import.

Every row is validated before anything is written; then all rows go in one transaction, so a file
imports completely or not at all. Orders are keyed by order id and returns by return id, and a file
(by its SHA-256) is imported once per kind, so importing the same file again changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from portal.domain import audit, carrier_updates, events
from portal.domain.attachments import AttachmentStore
from portal.domain.csv_files import (
    FIELDS,
    ImportFileError,
    ValueProblem,
    detect_delimiter,
    detect_encoding,
    guess_mapping,
    parse_money,
    parse_quantity,
    parse_time,
    parse_yes_no,
    read_header,
    read_rows,
)
from portal.domain.enums import (
    CaseReason,
    CaseType,
    Channel,
    OrderStatus,
    ShipmentKind,
    TrackingStatus,
)
from portal.domain.lifecycle import Actor
from portal.domain.lookups import next_case_number
from portal.domain.models import (
    Buyer,
    Case,
    CaseItem,
    ImportBatch,
    Job,
    Market,
    Order,
    OrderItem,
    Product,
    Shipment,
    User,
)
from portal.domain.types import N_, rowcount, utcnow
from portal.domain.uploads import safe_filename

# Errors kept on the batch for the page and the error file; the count is always complete.
MAX_STORED_ERRORS = 5000
PREVIEW_ROWS = 10
Progress = Callable[[int, int | None], None]

CHANNELS = {
    **{c.value: c for c in Channel},
    "livestream": Channel.LIVE,
    "live stream": Channel.LIVE,
    "直播": Channel.LIVE,
    "short video": Channel.VIDEO,
    "短视频": Channel.VIDEO,
    "ads": Channel.AD,
    "advertising": Channel.AD,
    "广告": Channel.AD,
    "affiliates": Channel.AFFILIATE,
    "creator": Channel.AFFILIATE,
    "达人": Channel.AFFILIATE,
    "natural": Channel.ORGANIC,
    "自然流量": Channel.ORGANIC,
}
RETURN_TYPES = {
    **{t.value.replace("_", " "): t for t in CaseType},
    "refund": CaseType.REFUND_ONLY,
    "仅退款": CaseType.REFUND_ONLY,
    "return & refund": CaseType.RETURN_AND_REFUND,
    "return": CaseType.RETURN_AND_REFUND,
    "退货退款": CaseType.RETURN_AND_REFUND,
    "replacement": CaseType.EXCHANGE,
    "换货": CaseType.EXCHANGE,
}
# Words in a seller center's reason text → the portal's reasons (first match wins).
REASON_WORDS: tuple[tuple[str, CaseReason], ...] = (
    ("not received", CaseReason.NOT_RECEIVED),
    ("didn't receive", CaseReason.NOT_RECEIVED),
    ("未收到", CaseReason.NOT_RECEIVED),
    ("late", CaseReason.LATE_DELIVERY),
    ("size", CaseReason.SIZE),
    ("fit", CaseReason.SIZE),
    ("尺码", CaseReason.SIZE),
    ("colo", CaseReason.COLOR),
    ("颜色", CaseReason.COLOR),
    ("damage", CaseReason.DAMAGED),
    ("broken", CaseReason.DAMAGED),
    ("破损", CaseReason.DAMAGED),
    ("missing", CaseReason.MISSING_PARTS),
    ("少件", CaseReason.MISSING_PARTS),
    ("describ", CaseReason.NOT_AS_DESCRIBED),
    ("不符", CaseReason.NOT_AS_DESCRIBED),
    ("wrong", CaseReason.WRONG_ITEM),
    ("错", CaseReason.WRONG_ITEM),
    ("quality", CaseReason.QUALITY),
    ("defect", CaseReason.QUALITY),
    ("质量", CaseReason.QUALITY),
    ("mind", CaseReason.CHANGED_MIND),
    ("no longer", CaseReason.CHANGED_MIND),
    ("不想要", CaseReason.CHANGED_MIND),
)
# Return statuses meaning the marketplace has finished with it (the policy must not act on those again).
FINISHED_WORDS = ("cancel", "close", "complete", "refunded", "reject", "取消", "关闭", "完成")

# An address good enough to send to: one @, a dot in the domain, no spaces.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass
class RowError:
    line: int
    field: str
    value: str
    message: str
    params: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "field": self.field,
            "value": self.value[:200],
            "message": self.message,
            "params": self.params,
        }


@dataclass
class Outcome:
    created: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0


def english(error: dict[str, Any]) -> str:
    """A stored row error as one English sentence: "line 14: Unit price “abc” is not an amount of money"."""
    return f"line {error['line']}: " + (
        error["message"] % error["params"] if error["params"] else error["message"]
    )


# --- upload and preview -------------------------------------------------------------------------


def register_upload(
    session: Session,
    store: AttachmentStore,
    *,
    kind: str,
    filename: str,
    data: bytes,
    market: Market,
    encoding: str = "auto",
    user: User | None = None,
) -> ImportBatch:
    """Keep the file and guess its mapping; the same file uploaded again returns the earlier batch."""
    if kind not in FIELDS:
        raise ImportFileError(N_("Choose what the file holds: orders or returns."))
    if not data.strip():
        raise ImportFileError(N_("The file is empty."))
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalar(
        select(ImportBatch).where(ImportBatch.kind == kind, ImportBatch.sha256 == digest)
    )
    if existing is not None:
        return existing
    codec = detect_encoding(data, encoding)
    text = data.decode(codec)
    delimiter = detect_delimiter(text[:65536])
    header = read_header(text[:65536], delimiter)
    if len([h for h in header if h]) < 2:
        raise ImportFileError(
            N_("The first line should name the columns, separated by commas or semicolons.")
        )
    store.put(data)
    batch = ImportBatch(
        kind=kind,
        filename=safe_filename(filename, "upload.csv"),
        sha256=digest,
        size=len(data),
        market_id=market.id,
        encoding=codec,
        encoding_detected=encoding == "auto",
        delimiter=delimiter,
        mapping=guess_mapping(kind, header),
        status="uploaded",
        created_by_id=user.id if user else None,
    )
    batch.total_rows = sum(1 for _ in read_rows(store.path(digest), codec, delimiter))
    if batch.total_rows == 0:
        raise ImportFileError(N_("The file has a header line but no rows to import."))
    session.add(batch)
    session.flush()
    return batch


def file_header(store: AttachmentStore, batch: ImportBatch) -> list[str]:
    with open(store.path(batch.sha256), encoding=batch.encoding, newline="") as handle:
        return read_header(handle.read(65536), batch.delimiter)


def preview(
    store: AttachmentStore, batch: ImportBatch, rows: int = PREVIEW_ROWS
) -> list[tuple[int, list[str]]]:
    out = []
    for line, cells in read_rows(store.path(batch.sha256), batch.encoding, batch.delimiter):
        out.append((line, cells))
        if len(out) >= rows:
            break
    return out


def check_mapping(kind: str, header: list[str], mapping: dict[str, str]) -> list[str]:
    """Labels of required fields without a column, plus columns given to two fields."""
    problems = [f.label for f in FIELDS[kind] if f.required and mapping.get(f.name) not in header]
    return problems


def claim(session: Session, batch: ImportBatch) -> bool:
    """Mark the batch running unless it is running or done already (a second click does nothing)."""
    result = session.execute(
        update(ImportBatch)
        .where(
            ImportBatch.id == batch.id,
            or_(
                ImportBatch.status.in_(("uploaded", "invalid", "failed")),
                # running, but its job gave up (its workers kept stopping): it may be started again
                (ImportBatch.status == "running")
                & ImportBatch.job_id.in_(select(Job.id).where(Job.status == "failed")),
            ),
        )
        .values(status="running", error_count=0, errors=[])
    )
    session.commit()
    session.refresh(batch)
    return rowcount(result) == 1


# --- validation ---------------------------------------------------------------------------------


class _Row:
    def __init__(self, line: int, cells: list[str], columns: dict[str, int], labels: dict[str, str]) -> None:
        self.line = line
        self.cells = cells
        self.columns = columns
        self.labels = labels
        self.errors: list[RowError] = []

    def get(self, name: str) -> str:
        index = self.columns.get(name)
        if index is None or index >= len(self.cells):
            return ""
        return self.cells[index].strip()

    def fail(self, name: str, message: str, **params: Any) -> None:
        self.errors.append(RowError(self.line, name, self.get(name), message, params))

    def required(self, name: str) -> str:
        value = self.get(name)
        if not value:
            self.fail(name, N_("%(field)s is empty"), field=self.labels[name])
        return value

    def parse(self, name: str, parser: Callable[..., Any], *args: Any) -> Any:
        value = self.get(name)
        if not value:
            return None
        try:
            return parser(value, *args, self.labels[name])
        except ValueProblem as problem:
            self.errors.append(RowError(self.line, name, value, problem.message, problem.params))
            return None


@dataclass
class OrderLine:
    line: int
    order_id: str
    placed_at: datetime
    buyer: str
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    currency: str
    channel: Channel
    market: Market
    carrier: str
    tracking_number: str
    buyer_email: str = ""
    return_insurance: bool | None = None
    return_insurer: str = ""


@dataclass
class ReturnRow:
    line: int
    return_id: str
    order: Order
    type: CaseType
    reason: CaseReason
    finished: bool
    requested_at: datetime
    items: list[tuple[OrderItem, int]]
    refund_amount: Decimal | None
    note: str


def _rows(batch: ImportBatch, path: Path, header: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    position = {name: i for i, name in reversed(list(enumerate(header)))}
    columns = {f: position[h] for f, h in batch.mapping.items() if h in position}
    labels = {f.name: f.label for f in FIELDS[batch.kind]}
    return columns, labels


def _markets(session: Session, batch: ImportBatch) -> dict[str, Market]:
    default = session.get(Market, batch.market_id)
    assert default is not None
    return {
        m.code.upper(): m for m in session.scalars(select(Market).where(Market.shop_id == default.shop_id))
    }


def _validate_orders(
    session: Session, batch: ImportBatch, path: Path, header: list[str], tick: Callable[[], None]
) -> tuple[list[OrderLine], list[RowError]]:
    columns, labels = _rows(batch, path, header)
    markets = _markets(session, batch)
    default = session.get(Market, batch.market_id)
    assert default is not None
    lines: list[OrderLine] = []
    errors: list[RowError] = []
    first_of: dict[str, OrderLine] = {}
    skus_of: dict[tuple[str, str], int] = {}
    for line, cells in read_rows(path, batch.encoding, batch.delimiter):
        tick()
        row = _Row(line, cells, columns, labels)
        order_id = row.required("order_id")
        buyer = row.required("buyer")
        sku = row.required("sku")
        for name in ("created_time", "quantity", "unit_price"):
            row.required(name)
        market = default
        if row.get("market"):
            found = markets.get(row.get("market").upper())
            if found is None:
                row.fail(
                    "market",
                    N_("%(field)s “%(value)s” is not one of the shop's markets (%(codes)s)"),
                    field=labels["market"],
                    value=row.get("market"),
                    codes=", ".join(sorted(markets)),
                )
            else:
                market = found
        placed_at = row.parse("created_time", parse_time, market.timezone)
        quantity = row.parse("quantity", parse_quantity)
        price = row.parse("unit_price", parse_money)
        currency = (row.get("currency") or market.currency).upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            row.fail(
                "currency",
                N_("%(field)s “%(value)s” is not a three-letter currency code"),
                field=labels["currency"],
                value=row.get("currency"),
            )
        channel = CHANNELS.get(row.get("channel").lower() or "organic")
        if channel is None:
            row.fail(
                "channel",
                N_("%(field)s “%(value)s” is not one of %(choices)s"),
                field=labels["channel"],
                value=row.get("channel"),
                choices=", ".join(c.value for c in Channel),
            )
        buyer_email = row.get("buyer_email")
        if buyer_email and (len(buyer_email) > 254 or not EMAIL.fullmatch(buyer_email)):
            row.fail(
                "buyer_email",
                N_("%(field)s “%(value)s” is not an e-mail address"),
                field=labels["buyer_email"],
                value=buyer_email[:80],
            )
        insured = row.parse("return_insurance", parse_yes_no)
        insurer = row.get("return_insurer")
        if insurer and insured is False:
            row.fail(
                "return_insurer",
                N_("%(field)s is given but the order has no return-shipping insurance"),
                field=labels["return_insurer"],
            )
        carrier, tracking = row.get("carrier"), row.get("tracking_number")
        if bool(carrier) != bool(tracking):
            row.fail(
                "tracking_number" if carrier else "carrier",
                N_("Carrier and tracking number go together: give both or neither"),
            )
        for name, value, limit in (
            ("order_id", order_id, 64),
            ("buyer", buyer, 64),
            ("sku", sku, 64),
            ("tracking_number", tracking, 64),
            ("carrier", carrier, 40),
            ("return_insurer", insurer, 80),
        ):
            if len(value) > limit:
                row.fail(
                    name, N_("%(field)s is longer than %(limit)d characters"), field=labels[name], limit=limit
                )
        if not row.errors:
            item = OrderLine(
                line,
                order_id,
                placed_at,
                buyer,
                sku,
                (row.get("product_name") or sku)[:200],
                quantity,
                price,
                currency,
                channel or Channel.ORGANIC,
                market,
                carrier,
                tracking,
                buyer_email,
                insured if insured is not None else (True if insurer else None),
                insurer,
            )
            first = first_of.setdefault(order_id, item)
            for name, mine, theirs in (
                ("buyer", item.buyer, first.buyer),
                ("currency", item.currency, first.currency),
                ("market", item.market.code, first.market.code),
                ("tracking_number", item.tracking_number, first.tracking_number),
            ):
                if mine != theirs:
                    row.fail(
                        name,
                        N_(
                            "Order %(order)s has %(field)s “%(value)s” here but “%(other)s” on line "
                            "%(other_line)d"
                        ),
                        order=order_id,
                        field=labels[name],
                        value=mine,
                        other=theirs,
                        other_line=first.line,
                    )
            earlier = skus_of.setdefault((order_id, sku), line)
            if earlier != line:
                row.fail(
                    "sku",
                    N_("SKU %(sku)s of order %(order)s is listed twice (also on line %(other_line)d)"),
                    sku=sku,
                    order=order_id,
                    other_line=earlier,
                )
            if not row.errors:
                lines.append(item)
        errors.extend(row.errors)
    return lines, errors


def _parse_items(text: str) -> list[tuple[str, int]] | None:
    """ "SKU-1; SKU-2 x2" → [("SKU-1", 1), ("SKU-2", 2)]; None when a part cannot be read."""
    items = []
    for part in re.split(r"[;|,]", text):
        part = part.strip()
        if not part:
            continue
        match = re.fullmatch(r"(.+?)(?:\s*[x×*]\s*(\d+))?", part)
        if match is None:
            return None
        items.append((match.group(1).strip(), int(match.group(2) or 1)))
    return items


def _validate_returns(
    session: Session, batch: ImportBatch, path: Path, header: list[str], tick: Callable[[], None]
) -> tuple[list[ReturnRow], list[RowError]]:
    columns, labels = _rows(batch, path, header)
    market = session.get(Market, batch.market_id)
    assert market is not None
    wanted = {
        cells[columns["order_id"]].strip()
        for _, cells in read_rows(path, batch.encoding, batch.delimiter)
        if "order_id" in columns and columns["order_id"] < len(cells)
    }
    orders: dict[str, Order] = {}
    ids = sorted(wanted)
    for start in range(0, len(ids), 500):
        query = (
            select(Order)
            .where(Order.external_order_id.in_(ids[start : start + 500]))
            .options(selectinload(Order.items), selectinload(Order.market))
        )
        orders.update({o.external_order_id: o for o in session.scalars(query)})
    rows: list[ReturnRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, cells in read_rows(path, batch.encoding, batch.delimiter):
        tick()
        row = _Row(line, cells, columns, labels)
        return_id = row.required("return_id")
        order_id = row.required("order_id")
        for name in ("type", "reason", "requested_time"):
            row.required(name)
        order = orders.get(order_id)
        if order_id and order is None:
            row.fail(
                "order_id", N_("There is no order %(order)s; import the orders file first"), order=order_id
            )
        case_type = RETURN_TYPES.get(row.get("type").lower().replace("_", " "))
        if row.get("type") and case_type is None:
            row.fail(
                "type",
                N_("%(field)s “%(value)s” is not one of refund only, return and refund, exchange"),
                field=labels["type"],
                value=row.get("type"),
            )
        reason_text = row.get("reason").lower()
        reason = next((r for r in CaseReason if reason_text.replace(" ", "_") == r.value), None) or next(
            (r for word, r in REASON_WORDS if word in reason_text), None
        )
        if reason_text and reason is None:
            row.fail(
                "reason",
                N_(
                    "%(field)s “%(value)s” is not a reason the portal knows (size, colour, quality, "
                    "damaged, missing parts, not as described, wrong item, changed mind, not "
                    "received, late delivery)"
                ),
                field=labels["reason"],
                value=row.get("reason"),
            )
        zone = order.market.timezone if order else market.timezone
        requested_at = row.parse("requested_time", parse_time, zone)
        refund = row.parse("refund_amount", parse_money)
        items: list[tuple[OrderItem, int]] = []
        if order is not None:
            by_sku = {i.sku: i for i in order.items}
            parsed = (
                _parse_items(row.get("skus"))
                if row.get("skus")
                else [(i.sku, i.quantity) for i in order.items]
            )
            if parsed is None:
                row.fail(
                    "skus",
                    N_("%(field)s “%(value)s” should list SKUs like “SKU-1; SKU-2 x2”"),
                    field=labels["skus"],
                    value=row.get("skus"),
                )
            for sku, quantity in parsed or []:
                item = by_sku.get(sku)
                if item is None:
                    row.fail("skus", N_("Order %(order)s has no SKU %(sku)s"), order=order_id, sku=sku)
                elif quantity > item.quantity:
                    row.fail(
                        "skus", N_("Only %(count)d of %(sku)s were ordered"), count=item.quantity, sku=sku
                    )
                else:
                    items.append((item, quantity))
            if refund is not None and refund > order.total_amount:
                row.fail(
                    "refund_amount",
                    N_("%(field)s %(value)s is more than the order total %(total)s"),
                    field=labels["refund_amount"],
                    value=str(refund),
                    total=str(order.total_amount),
                )
        if len(return_id) > 64:
            row.fail(
                "return_id",
                N_("%(field)s is longer than %(limit)d characters"),
                field=labels["return_id"],
                limit=64,
            )
        earlier = seen.setdefault(return_id, line)
        if return_id and earlier != line:
            row.fail(
                "return_id",
                N_("Return %(id)s is listed twice (also on line %(other_line)d)"),
                id=return_id,
                other_line=earlier,
            )
        if not row.errors and order is not None and case_type and reason and requested_at:
            finished = any(word in row.get("status").lower() for word in FINISHED_WORDS)
            rows.append(
                ReturnRow(
                    line,
                    return_id,
                    order,
                    case_type,
                    reason,
                    finished,
                    requested_at,
                    items,
                    refund,
                    row.get("buyer_note")[:2000],
                )
            )
        errors.extend(row.errors)
    return rows, errors


# --- importing ----------------------------------------------------------------------------------


def _import_orders(
    session: Session, lines: list[OrderLine], store: AttachmentStore | None, tick: Callable[[], None]
) -> Outcome:
    outcome = Outcome()
    grouped: dict[str, list[OrderLine]] = {}
    for item in lines:
        grouped.setdefault(item.order_id, []).append(item)
    ids = sorted(grouped)
    existing: set[str] = set()
    for start in range(0, len(ids), 500):
        existing.update(
            session.scalars(
                select(Order.external_order_id).where(Order.external_order_id.in_(ids[start : start + 500]))
            )
        )
    names = sorted({i.buyer for i in lines})
    buyers: dict[str, Buyer] = {}
    for start in range(0, len(names), 500):
        buyers.update(
            {
                b.pseudonym: b
                for b in session.scalars(select(Buyer).where(Buyer.pseudonym.in_(names[start : start + 500])))
            }
        )
    skus = sorted({i.sku for i in lines})
    products: dict[tuple[int, str], Product] = {}
    for start in range(0, len(skus), 500):
        products.update(
            {
                (p.shop_id, p.sku): p
                for p in session.scalars(select(Product).where(Product.sku.in_(skus[start : start + 500])))
            }
        )
    for order_id, items in grouped.items():
        for _ in items:
            tick()
        if order_id in existing:
            outcome.unchanged += 1
            continue
        first = items[0]
        market = first.market
        buyer = buyers.get(first.buyer)
        if buyer is None:
            buyer = Buyer(
                shop_id=market.shop_id,
                pseudonym=first.buyer,
                display_name=first.buyer,
                market=market,
                language=market.language,
                timezone=market.timezone,
                orders_count=0,
                first_order_at=first.placed_at,
            )
            buyers[first.buyer] = buyer
            session.add(buyer)
        if first.buyer_email:
            buyer.email = first.buyer_email
        buyer.orders_count += 1
        order = Order(
            shop_id=market.shop_id,
            market=market,
            buyer=buyer,
            external_order_id=order_id,
            channel=first.channel,
            status=OrderStatus.SHIPPED if first.tracking_number else OrderStatus.PAID,
            currency=first.currency,
            total_amount=sum((i.unit_price * i.quantity for i in items), Decimal("0")),
            placed_at=first.placed_at,
            return_insurance=first.return_insurance,
            return_insurer=first.return_insurer or None,
        )
        session.add(order)
        for i in items:
            product = products.get((market.shop_id, i.sku))
            order.items.append(
                OrderItem(
                    product=product,
                    sku=i.sku,
                    title=product.title if product and i.title == i.sku else i.title,
                    category=product.category if product else "general",
                    quantity=i.quantity,
                    unit_price=i.unit_price,
                    currency=i.currency,
                )
            )
        if first.tracking_number:
            shipment = Shipment(
                order=order,
                kind=ShipmentKind.OUTBOUND,
                carrier=first.carrier,
                tracking_number=first.tracking_number,
                status=TrackingStatus.INFO_RECEIVED,
                shipped_at=first.placed_at,
            )
            session.add(shipment)
            session.flush()
            # Carrier updates that arrived before the order was known now find their parcel.
            carrier_updates.apply_pending(session, shipment, store)
        outcome.created += 1
    session.flush()
    return outcome


def _import_returns(
    session: Session, rows: list[ReturnRow], actor: Actor, now: datetime, tick: Callable[[], None]
) -> Outcome:
    outcome = Outcome()
    ids = [r.return_id for r in rows]
    existing: set[str] = set()
    for start in range(0, len(ids), 500):
        existing.update(
            session.scalars(select(Case.external_id).where(Case.external_id.in_(ids[start : start + 500])))
        )
    for row in rows:
        tick()
        if row.return_id in existing:
            outcome.unchanged += 1
            continue
        if row.finished:
            outcome.skipped += 1
            continue
        order = row.order
        case = Case(
            number=next_case_number(session),
            external_id=row.return_id,
            shop_id=order.shop_id,
            market=order.market,
            order=order,
            buyer_id=order.buyer_id,
            type=row.type,
            reason=row.reason,
            value=sum((item.unit_price * quantity for item, quantity in row.items), Decimal("0")),
            currency=order.currency,
            requested_amount=row.refund_amount,
            buyer_note=row.note or None,
            opened_at=row.requested_at,
        )
        case.items = [CaseItem(order_item=item, quantity=quantity) for item, quantity in row.items]
        events.open_case(session, case, actor, now)
        outcome.created += 1
    return outcome


def run_import(
    session: Session,
    store: AttachmentStore,
    batch: ImportBatch,
    actor: Actor,
    progress: Progress | None = None,
    report_while_writing: bool = True,
) -> Outcome:
    """Validate every row, then import them all in this session's transaction, or none.

    The batch row is updated in the same transaction; the caller commits (or rolls back on error).
    `report_while_writing` False keeps progress reports out of the writing phase (SQLite allows one
    writer, and the import transaction is it).
    """
    path = store.path(batch.sha256)
    header = file_header(store, batch)
    total = batch.total_rows * 2
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress and (done <= batch.total_rows or report_while_writing):
            progress(done, total)

    validate = _validate_orders if batch.kind == "orders" else _validate_returns
    missing = check_mapping(batch.kind, header, batch.mapping)
    if missing:
        errors = [
            RowError(1, "", "", N_("No column is chosen for %(field)s"), {"field": label})
            for label in missing
        ]
        parsed: list[Any] = []
    else:
        parsed, errors = validate(session, batch, path, header, tick)  # type: ignore[operator]
    now = utcnow()
    if errors:
        batch.status = "invalid"
        batch.error_count = len(errors)
        batch.errors = [e.as_dict() for e in errors[:MAX_STORED_ERRORS]]
        batch.finished_at = now
        return Outcome(errors=errors, error_count=len(errors))
    if batch.kind == "orders":
        outcome = _import_orders(session, parsed, store, tick)
    else:
        outcome = _import_returns(session, parsed, actor, now, tick)
    batch.status = "done"
    batch.created_count = outcome.created
    batch.unchanged_count = outcome.unchanged
    batch.skipped_count = outcome.skipped
    batch.error_count = 0
    batch.errors = []
    batch.finished_at = utcnow()
    audit.record(
        session,
        "import.done",
        "import_batch",
        batch.id,
        {
            "kind": batch.kind,
            "file": batch.filename,
            "sha256": batch.sha256,
            "created": outcome.created,
            "unchanged": outcome.unchanged,
            "skipped": outcome.skipped,
        },
        actor=actor.user,
        actor_label=None if actor.user else actor.label,
    )
    return outcome

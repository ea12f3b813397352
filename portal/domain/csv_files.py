"""Reading seller-center CSV exports: encoding, delimiter, header variants, and the value parsers."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from charset_normalizer import from_bytes

from portal.domain.types import N_

ENCODINGS = ("auto", "utf-8", "gb18030", "cp1252")


class ImportFileError(Exception):
    """The file as a whole cannot be read; the message (English, with params) is for the uploader."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class ValueProblem(ValueError):
    """One cell that does not hold what its column should; message and params for the row error."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    required: bool
    aliases: tuple[str, ...]


ORDER_FIELDS = (
    Field("order_id", N_("Order ID"), True, ("order id", "order no", "order number", "订单号", "订单编号")),
    Field(
        "created_time",
        N_("Created time"),
        True,
        (
            "created time",
            "order created time",
            "create time",
            "paid time",
            "order date",
            "创建时间",
            "下单时间",
        ),
    ),
    Field(
        "buyer",
        N_("Buyer"),
        True,
        ("buyer username", "buyer", "buyer nickname", "buyer name", "买家", "买家用户名"),
    ),
    Field(
        "buyer_email",
        N_("Buyer e-mail"),
        False,
        ("buyer email", "buyer e-mail", "email", "e-mail", "买家邮箱", "邮箱"),
    ),
    Field("sku", N_("SKU"), True, ("seller sku", "sku", "sku id", "卖家sku")),
    Field("product_name", N_("Product name"), False, ("product name", "item name", "title", "商品名称")),
    Field("quantity", N_("Quantity"), True, ("quantity", "qty", "数量")),
    Field(
        "unit_price",
        N_("Unit price"),
        True,
        ("sku unit original price", "unit price", "price", "sku unit price", "单价"),
    ),
    Field("currency", N_("Currency"), False, ("currency", "币种")),
    Field("channel", N_("Channel"), False, ("channel", "traffic source", "source", "渠道")),
    Field("market", N_("Market"), False, ("market", "country", "country region", "国家")),
    Field(
        "carrier", N_("Carrier"), False, ("shipping provider name", "shipping provider", "carrier", "物流商")
    ),
    Field(
        "tracking_number",
        N_("Tracking number"),
        False,
        ("tracking id", "tracking number", "tracking no", "运单号"),
    ),
    Field(
        "return_insurance",
        N_("Return-shipping insurance"),
        False,
        (
            "return shipping insurance",
            "return insurance",
            "shipping insurance",
            "return shipping fee insurance",
            "退货运费险",
            "运费险",
        ),
    ),
    Field(
        "return_insurer",
        N_("Insurer"),
        False,
        ("insurer", "insurance provider", "insurance company", "保险公司", "承保公司"),
    ),
)
RETURN_FIELDS = (
    Field("return_id", N_("Return ID"), True, ("return order id", "return id", "return no", "退货单号")),
    Field("order_id", N_("Order ID"), True, ("order id", "order no", "order number", "订单号")),
    Field("type", N_("Return type"), True, ("return type", "type", "request type", "售后类型")),
    Field("reason", N_("Reason"), True, ("return reason", "reason", "退货原因")),
    Field("status", N_("Return status"), False, ("return status", "status", "状态")),
    Field(
        "requested_time",
        N_("Requested time"),
        True,
        ("time requested", "requested time", "request time", "return created time", "申请时间"),
    ),
    Field("skus", N_("SKUs"), False, ("skus", "seller sku", "sku", "items")),
    Field("refund_amount", N_("Refund amount"), False, ("refund amount", "requested refund", "退款金额")),
    Field("buyer_note", N_("Buyer note"), False, ("buyer note", "return note", "note", "买家备注")),
)
FIELDS = {"orders": ORDER_FIELDS, "returns": RETURN_FIELDS}


def normalise_header(text: str) -> str:
    text = text.replace("\ufeff", "").strip().lower()
    text = re.sub(r"[_\-./()]+", " ", text)
    return re.sub(r"\s+", " ", text).strip(" :")


def guess_mapping(kind: str, header: list[str]) -> dict[str, str]:
    """For each field, the first column whose header is one of its known names."""
    normalised = {normalise_header(h): h for h in reversed(header) if h.strip()}
    mapping: dict[str, str] = {}
    for item in FIELDS[kind]:
        found = next((normalised[a] for a in item.aliases if a in normalised), None)
        if found is not None and found not in mapping.values():
            mapping[item.name] = found
    return mapping


# The encodings the upload form offers, as Python codecs, tried by "auto" after UTF-8.
DETECTABLE = ("gb18030", "cp1252")
ENCODING_NAMES = {
    "utf-8-sig": "UTF-8",
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "gb18030": "GB18030",
    "cp1252": "Windows-1252",
}


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _guess_legacy(data: bytes) -> str | None:
    """GB18030 or Windows-1252, whichever reads the bytes as the more plausible text; None if neither can.

    Almost any bytes decode as Windows-1252, so decoding alone cannot choose: charset-normalizer
    scores how much each reading looks like real text. Its answer must still decode the whole file.
    """
    candidates = [codec for codec in DETECTABLE if _decodes(data, codec)]
    if len(candidates) < 2:
        return candidates[0] if candidates else None
    best = from_bytes(data, cp_isolation=list(candidates), preemptive_behaviour=False).best()
    if best is not None and best.encoding in candidates:
        return str(best.encoding)
    return candidates[0]


def detect_encoding(data: bytes, choice: str) -> str:
    """The codec to read the file with. With "auto": UTF-16 with a BOM, UTF-8 (with or without BOM), or
    else whichever of the other encodings the form offers reads it (Chinese Excel saves GB18030)."""
    if choice == "auto":
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and _decodes(data, "utf-16"):
            return "utf-16"
        if _decodes(data, "utf-8-sig"):
            return "utf-8-sig"
        codec = _guess_legacy(data)
        if codec is None:
            raise ImportFileError(
                N_(
                    "The file is not text in any encoding the portal reads (UTF-8, GB18030, "
                    "Windows-1252). Save it from Excel as “CSV UTF-8” and upload it again."
                )
            )
        return codec
    try:
        data.decode(choice)
    except UnicodeDecodeError as error:
        raise ImportFileError(
            N_("The file cannot be read as %(encoding)s (unreadable byte at position %(position)d)."),
            encoding=choice,
            position=error.start,
        ) from None
    return "utf-8-sig" if choice == "utf-8" else choice


def detect_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        return max(",;\t|", key=first.count) if first else ","


def open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    return open(path, encoding=encoding, newline="")  # noqa: SIM115  (the caller closes it)


def read_rows(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for every data row, streamed; the header is line 1."""
    with open_text(path, encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            yield reader.line_num, cells


def read_header(text: str, delimiter: str) -> list[str]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, [])
    return [h.replace("\ufeff", "").strip() for h in header]


# --- values -------------------------------------------------------------------------------------

_MONEY = re.compile(r"^-?\d+(\.\d{1,2})?$")
_SYMBOLS = re.compile(r"^(?:[A-Z]{3}\s*|[$€£¥]|RM\s*)")
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
)


def parse_money(text: str, label: str) -> Decimal:
    """12.50, 12,50 (decimal comma), 1,234.50, $12.50 or USD 12.50 → Decimal('12.50')."""
    value = _SYMBOLS.sub("", text.strip()).replace(" ", "")
    if re.fullmatch(r"-?\d+,\d{1,2}", value):
        value = value.replace(",", ".")
    elif re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d{1,2})?", value):
        value = value.replace(",", "")
    if not _MONEY.match(value):
        raise ValueProblem(N_("%(field)s “%(value)s” is not an amount of money"), field=label, value=text)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueProblem(
            N_("%(field)s “%(value)s” is not an amount of money"), field=label, value=text
        ) from None
    if amount < 0:
        raise ValueProblem(N_("%(field)s “%(value)s” is negative"), field=label, value=text)
    return amount.quantize(Decimal("0.01"))


def parse_quantity(text: str, label: str) -> int:
    value = text.strip()
    if not value.isdigit() or int(value) < 1:
        raise ValueProblem(
            N_("%(field)s “%(value)s” is not a whole number of at least 1"), field=label, value=text
        )
    return int(value)


_YES = {"yes", "y", "true", "1", "insured", "是", "有", "已投保"}
_NO = {"no", "n", "false", "0", "none", "否", "无", "未投保"}


def parse_yes_no(text: str, label: str) -> bool:
    """Yes/no as seller centers write it, in English or Chinese."""
    value = text.strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise ValueProblem(N_("%(field)s “%(value)s” is not yes or no"), field=label, value=text)


def parse_time(text: str, zone: str, label: str) -> datetime:
    """A time as the seller center writes it, in the market's zone unless it carries its own offset."""
    value = text.strip()
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        for fmt in TIME_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueProblem(
            N_("%(field)s “%(value)s” is not a time like 2026-03-01 14:30:00"), field=label, value=text
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    return parsed.astimezone(UTC)

"""The buyer's return instructions: one printable page in the buyer's language, rendered to PDF."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_currency
from flask import current_app, render_template
from pypdf import PdfReader, PdfWriter
from sqlalchemy.orm import Session

from portal.documents import render
from portal.documents.barcodes import code128_svg, qr_svg
from portal.documents.instruction_texts import texts_for
from portal.documents.render import render_pdf
from portal.domain.attachments import AttachmentStore, store_attachment
from portal.domain.enums import ShippingPayer
from portal.domain.models import Attachment, Case, Message, ReturnAddress, ReturnShipment

PDF_TYPE = "application/pdf"
# Market codes that are not ISO country codes.
_MARKET_COUNTRY = {"UK": "GB"}


def market_country(code: str) -> str:
    return _MARKET_COUNTRY.get(code.upper(), code.upper())


def is_cross_border(case: Case, address: ReturnAddress) -> bool:
    return market_country(address.country) != market_country(case.market.code)


def country_name(code: str) -> str:
    """The country line of an international address: its English name in capitals, as carriers expect."""
    iso = market_country(code)
    return str(Locale("en").territories.get(iso, iso)).upper()


def address_lines(address: ReturnAddress, rma: str | None = None) -> list[str]:
    """The return address line by line, in the order the destination country's post expects."""
    country = market_country(address.country)
    region = address.region or ""
    if country == "US" or country == "CA" or country == "AU":
        locality = [f"{address.city}, {region} {address.postcode}".replace(",  ", ", ").strip()]
    elif country == "GB":
        locality = [address.city.upper(), address.postcode.upper()]
    elif country == "MY":
        locality = [f"{address.postcode} {address.city}", *([region] if region else [])]
    elif country in {"CN", "JP", "KR", "TW"}:
        locality = [" ".join(part for part in (region, address.city, address.postcode) if part)]
    else:
        locality = [f"{address.postcode} {address.city}", *([region] if region and country != "DE" else [])]
    lines = [
        address.recipient,
        *([f"RMA {rma}"] if rma else []),
        address.street,
        *locality,
        country_name(country),
        f"Tel. {address.phone}",
    ]
    return [line for line in lines if line.strip()]


def _ship_by(when: datetime | None, zone: str, lang: str, t: dict[str, str]) -> str:
    if when is None:
        return t["ship_by_none"]
    local = when.astimezone(ZoneInfo(zone))
    return t["ship_by_time"].format(
        date=format_date(local, "full", locale=lang), time=format_time(local, "short", locale=lang), zone=zone
    )


def _payer(case: Case, ret: ReturnShipment, t: dict[str, str]) -> str:
    """Who pays the postage; only a return that has a label is told to use one."""
    if ret.label_sha256:
        return t["payer_label"]
    if case.order.return_insurance:
        return t["payer_insured"]
    return t["payer_seller"] if ret.shipping_payer == ShippingPayer.SELLER else t["payer_buyer"]


def with_label(instructions: bytes, label: bytes) -> bytes:
    """The instructions followed by the label's pages, as one PDF for the buyer to print.

    The instructions are cloned whole, so their tags, language and metadata stay as rendered; the
    label's pages follow as the carrier made them.
    """
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(instructions)))
    writer.append(PdfReader(io.BytesIO(label), strict=False))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def instructions_context(case: Case, ret: ReturnShipment) -> dict[str, Any]:
    lang, t = texts_for(case.buyer.language)
    address = ret.address
    carriers = [c.strip() for c in address.carriers.split(",") if c.strip()]
    value = ret.declared_value if ret.declared_value is not None else case.value
    first_item = case.items[0].order_item if case.items else None
    description = ret.customs_description or (
        f"Returned {first_item.category.title()}" if first_item else "Returned goods"
    )
    return {
        "lang": lang,
        "t": t,
        "case": case,
        "ret": ret,
        "greeting": t["greeting"].format(name=case.buyer.display_name, order=case.order.external_order_id),
        "address_lines": address_lines(address, ret.rma_number),
        "carriers": t["carriers_list"].format(carriers=", ".join(carriers)) if carriers else "",
        "ship_by": _ship_by(ret.ship_by, case.buyer.timezone or case.market.timezone, lang, t),
        "payer": _payer(case, ret, t),
        "label": bool(ret.label_sha256),
        "cross_border": is_cross_border(case, address),
        "customs": t["customs_text"].format(
            description=description, value=format_currency(value, case.currency, locale=lang)
        ),
        "items": [(ci.order_item, ci.quantity) for ci in case.items],
        "barcode": code128_svg(ret.rma_number),
        "qrcode": qr_svg(ret.rma_number),
    }


def instructions_filename(ret: ReturnShipment) -> str:
    return f"return-instructions-{ret.rma_number}.pdf"


def render_return_instructions(
    session: Session, store: AttachmentStore, case: Case, return_shipment: ReturnShipment
) -> bytes:
    """The instructions PDF for an approved return. Needs an app context; raises RenderError on failure.

    A return with a prepaid label gets the label's pages after the instructions (read from `store`).
    """
    html = render_template("documents/pdf/instructions.html", **instructions_context(case, return_shipment))
    pdf = render_pdf(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        html,
        **render.INSTRUCTIONS_PDF,
    )
    if return_shipment.label_sha256:
        pdf = with_label(pdf, store.read(return_shipment.label_sha256))
    return pdf


def attach_instructions_to_message(
    session: Session, store: AttachmentStore, message: Message, case: Case, return_shipment: ReturnShipment
) -> Attachment:
    """Render the instructions, store them and attach them to `message` (flushed, not committed)."""
    pdf = render_return_instructions(session, store, case, return_shipment)
    attachment = store_attachment(session, store, pdf, PDF_TYPE)
    message.attachment_sha256 = attachment.sha256
    message.attachment_name = instructions_filename(return_shipment)
    session.flush()
    return attachment

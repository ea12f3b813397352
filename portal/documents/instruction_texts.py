"""The wording of the buyer's return instructions: English here, the other buyer languages in the `buyer`
gettext catalogues (msgctxt "instructions:KEY"), the one place translators work."""

from __future__ import annotations

from portal.domain.conversations.texts import LANGUAGES, buyer_language, translate

# The source texts; a test checks that every buyer language translates every key.
ENGLISH: dict[str, str] = {
    "title": "Return instructions",
    "greeting": "Hello {name}, your return for order {order} is approved. Please follow these steps.",
    "rma": "Your return number (RMA)",
    "rma_note": "Write this number clearly on the outside of the parcel and put this page inside it.",
    "address": "Send the parcel to",
    "address_note": "Copy the address exactly as shown, one line at a time.",
    "ship_by": "Ship by",
    "ship_by_time": "{date}, {time} your time ({zone})",
    "ship_by_none": "As soon as possible",
    "carriers": "Use a tracked carrier",
    "carriers_list": "Send the parcel with one of: {carriers}.",
    "untracked": "Do not use untracked post. Without a tracking number nobody can prove the parcel "
    "arrived, and your refund may be delayed or refused.",
    "keep": "Keep your receipt and the tracking number until your refund has arrived.",
    "payer_buyer": "You pay for return shipping.",
    "payer_seller": "We pay for return shipping: keep the receipt and we refund it.",
    "payer_insured": "Your order's return-shipping insurance covers the postage of this return.",
    "payer_label": "The postage is prepaid: use the prepaid label, you pay nothing to send the parcel.",
    "label": "Prepaid return label",
    "label_note": "The prepaid label is the last page of this document. Print it, stick it on the parcel "
    "over any old labels and hand the parcel to the carrier named on the label.",
    "customs": "Customs declaration (cross-border return)",
    "customs_text": "Declare the contents as \u201c{description}\u201d with their true value of {value}. "
    "Do not mark the parcel as a gift.",
    "duties": "Import duties and taxes are paid by the sender (DDP).",
    "items": "Items to return",
    "item": "Item",
    "sku": "SKU",
    "quantity": "Quantity",
    "checklist": "Packing checklist",
    "check_tags": "Tags still attached, item unused and clean",
    "check_box": "In its original box or packaging",
    "check_parts": "All parts, accessories and manuals included",
    "check_rma": "This page, or the RMA number, inside the parcel",
    "check_sealed": "Parcel sealed and the RMA number written on the outside",
    "footer": "Questions? Reply to our message and quote your RMA number.",
}


def texts_for(language: str | None) -> tuple[str, dict[str, str]]:
    """The language to use for a buyer (its primary subtag when known, else English) and its texts."""
    lang = buyer_language(language)
    return lang, {key: translate(text, lang, f"instructions:{key}") for key, text in ENGLISH.items()}


__all__ = ["ENGLISH", "LANGUAGES", "texts_for"]

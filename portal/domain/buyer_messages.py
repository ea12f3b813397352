"""Messages to buyers: one template per purpose, in the buyer's language, with the case's facts filled in."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from portal.domain.models import Case

# The languages of the demo markets; anything else falls back to English.
LANGUAGES = ("en", "de", "ms", "zh")

TEMPLATES: dict[str, dict[str, str]] = {
    "return_approved": {
        "en": "Hi {buyer}, your return for order {order} is approved. Your RMA number is {rma}. Please ship "
        "the item by {ship_by} with a tracked carrier ({carriers}) to:\n{address}\nKeep your receipt "
        "and tracking number. Return shipping is paid by {payer}.",
        "de": "Hallo {buyer}, Ihre Rücksendung für Bestellung {order} ist genehmigt. Ihre RMA-Nummer lautet "
        "{rma}. Bitte senden Sie den Artikel bis {ship_by} mit einem Sendungsverfolgungsdienst "
        "({carriers}) an:\n{address}\nBewahren Sie Beleg und Sendungsnummer auf. Die Rücksendekosten "
        "trägt {payer}.",
        "ms": "Hai {buyer}, pemulangan untuk pesanan {order} telah diluluskan. Nombor RMA anda ialah {rma}. "
        "Sila hantar item sebelum {ship_by} dengan kurier berjejak ({carriers}) ke:\n{address}\n"
        "Simpan resit dan nombor penjejakan anda. Kos penghantaran pemulangan ditanggung oleh {payer}.",
        "zh": "{buyer}您好，订单 {order} 的退货申请已通过，RMA 编号为 {rma}。"
        "请在 {ship_by} 前使用可追踪的快递"
        "（{carriers}）寄回至：\n{address}\n请保留收据和运单号。退货运费由{payer}承担。",
    },
    "return_received": {
        "en": "Hi {buyer}, we have received your return {rma}. We will inspect it and let you know shortly.",
        "de": "Hallo {buyer}, wir haben Ihre Rücksendung {rma} erhalten. Wir prüfen sie und melden uns "
        "in Kürze.",
        "ms": "Hai {buyer}, kami telah menerima pemulangan anda {rma}. Kami akan memeriksanya dan "
        "memaklumkan anda tidak lama lagi.",
        "zh": "{buyer}您好，我们已收到您的退货 {rma}，质检后会尽快通知您。",
    },
    "inspection_passed": {
        "en": "Hi {buyer}, your return {rma} passed inspection.",
        "de": "Hallo {buyer}, Ihre Rücksendung {rma} hat die Prüfung bestanden.",
        "ms": "Hai {buyer}, pemulangan anda {rma} telah lulus pemeriksaan.",
        "zh": "{buyer}您好，您的退货 {rma} 已通过质检。",
    },
    "refund_initiated": {
        "en": "Hi {buyer}, we have refunded {amount} for order {order}. It reaches your original payment "
        "method in 3–10 business days.",
        "de": "Hallo {buyer}, wir haben {amount} für Bestellung {order} erstattet. Der Betrag erscheint in "
        "3–10 Werktagen auf Ihrem ursprünglichen Zahlungsmittel.",
        "ms": "Hai {buyer}, kami telah membayar balik {amount} untuk pesanan {order}. Ia akan sampai ke "
        "kaedah pembayaran asal anda dalam 3–10 hari bekerja.",
        "zh": "{buyer}您好，订单 {order} 已退款 {amount}，将在 3–10 个工作日内退回您的原支付方式。",
    },
    "coupon_issued": {
        "en": "Hi {buyer}, sorry for the trouble with order {order}. We have added a coupon of {amount} to "
        "your account.",
        "de": "Hallo {buyer}, entschuldigen Sie die Unannehmlichkeiten mit Bestellung {order}. Wir haben "
        "Ihrem Konto einen Gutschein über {amount} gutgeschrieben.",
        "ms": "Hai {buyer}, maaf atas kesulitan dengan pesanan {order}. Kami telah menambah kupon {amount} "
        "ke akaun anda.",
        "zh": "{buyer}您好，订单 {order} 给您带来不便，深表歉意。我们已向您的账户发放 {amount} 的优惠券。",
    },
    "exchange_shipped": {
        "en": "Hi {buyer}, your replacement for order {order} is on its way: {tracking}.",
        "de": "Hallo {buyer}, Ihr Ersatzartikel für Bestellung {order} ist unterwegs: {tracking}.",
        "ms": "Hai {buyer}, barang gantian untuk pesanan {order} sedang dihantar: {tracking}.",
        "zh": "{buyer}您好，订单 {order} 的换货已发出，运单号：{tracking}。",
    },
    "evidence_requested": {
        "en": "Hi {buyer}, to help us with your request for order {order}, please send us a {evidence} "
        "showing the problem.",
        "de": "Hallo {buyer}, damit wir Ihre Anfrage zu Bestellung {order} bearbeiten können, senden Sie uns "
        "bitte {evidence}, das das Problem zeigt.",
        "ms": "Hai {buyer}, untuk membantu permintaan anda bagi pesanan {order}, sila hantar {evidence} yang "
        "menunjukkan masalah tersebut.",
        "zh": "{buyer}您好，为处理订单 {order} 的申请，请发送一份能说明问题的{evidence}。",
    },
    "request_rejected": {
        "en": "Hi {buyer}, we are sorry, but we cannot accept your request for order {order}: {reason}",
        "de": "Hallo {buyer}, leider können wir Ihre Anfrage zu Bestellung {order} nicht annehmen: {reason}",
        "ms": "Hai {buyer}, maaf, kami tidak dapat menerima permintaan anda untuk pesanan {order}: {reason}",
        "zh": "{buyer}您好，很抱歉，我们无法受理订单 {order} 的申请：{reason}",
    },
    "confirm_address": {
        "en": "Hi {buyer}, the carrier could not deliver order {order}. Please confirm your address so we "
        "can arrange a new delivery.",
        "de": "Hallo {buyer}, der Zusteller konnte Bestellung {order} nicht zustellen. Bitte bestätigen Sie "
        "Ihre Adresse, damit wir eine neue Zustellung veranlassen können.",
        "ms": "Hai {buyer}, kurier tidak dapat menghantar pesanan {order}. Sila sahkan alamat anda supaya "
        "kami boleh mengatur penghantaran semula.",
        "zh": "{buyer}您好，快递未能成功派送订单 {order}。请确认您的地址，以便我们安排重新派送。",
    },
    "tracking_stale": {
        "en": "Hi {buyer}, your parcel for order {order} has not moved for a few days. We are checking with "
        "the carrier and will keep you updated.",
        "de": "Hallo {buyer}, Ihr Paket zu Bestellung {order} bewegt sich seit einigen Tagen nicht. Wir "
        "klären das mit dem Zusteller und halten Sie auf dem Laufenden.",
        "ms": "Hai {buyer}, bungkusan anda untuk pesanan {order} tidak bergerak selama beberapa hari. Kami "
        "sedang menyemak dengan kurier dan akan memaklumkan anda.",
        "zh": "{buyer}您好，订单 {order} 的包裹已有几天没有更新物流，我们正在与快递公司核实，会及时告知您。",
    },
}
# Older names a policy may use for the same message.
ALIASES = {
    "return_instructions": "return_approved",
    "refund": "refund_initiated",
    "request_evidence": "evidence_requested",
    "rejected": "request_rejected",
}

PAYERS = {
    "buyer": {"en": "you", "de": "Sie", "ms": "anda", "zh": "您"},
    "seller": {"en": "us", "de": "uns", "ms": "kami", "zh": "我们"},
}
EVIDENCE = {
    "photo": {"en": "photo", "de": "ein Foto", "ms": "gambar", "zh": "照片"},
    "video": {"en": "video", "de": "ein Video", "ms": "video", "zh": "视频"},
    "document": {"en": "document", "de": "ein Dokument", "ms": "dokumen", "zh": "文件"},
}


def template_names() -> list[str]:
    return sorted(TEMPLATES)


def resolve_name(name: str) -> str | None:
    name = ALIASES.get(name, name)
    return name if name in TEMPLATES else None


def language_for(case: Case) -> str:
    language = (case.buyer.language or "en").split("-")[0].lower()
    return language if language in LANGUAGES else "en"


def format_address(case: Case) -> str:
    ret = case.returns[-1] if case.returns else None
    address = ret.address if ret else next((a for a in case.market.return_addresses if a.is_default), None)
    if address is None:
        return ""
    city_line = " ".join(part for part in (address.city, address.region or "", address.postcode) if part)
    return "\n".join([address.recipient, address.street, city_line, address.country, address.phone])


def _local(when: datetime | None, zone: str) -> str:
    return when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d") if when else ""


def render(case: Case, name: str, extra: dict[str, Any] | None = None, language: str | None = None) -> str:
    """The text of template `name` for this case in the buyer's language."""
    key = resolve_name(name)
    if key is None:
        raise KeyError(name)
    language = language or language_for(case)
    ret = case.returns[-1] if case.returns else None
    carriers = ret.address.carriers if ret else ""
    values: dict[str, Any] = {
        "buyer": case.buyer.display_name,
        "order": case.order.external_order_id,
        "case": case.number,
        "rma": ret.rma_number if ret else "",
        "ship_by": _local(ret.ship_by if ret else None, case.buyer.timezone),
        "carriers": carriers.replace(",", ", "),
        "address": format_address(case),
        "payer": PAYERS.get(ret.shipping_payer.value if ret else "buyer", PAYERS["buyer"])[language],
        "amount": f"{case.value} {case.currency}",
        "tracking": "",
        "reason": "",
        "evidence": "",
    }
    for key_name, value in (extra or {}).items():
        values[key_name] = value
    if values.get("evidence") in EVIDENCE:
        values["evidence"] = EVIDENCE[values["evidence"]][language]
    return TEMPLATES[key][language].format(**values)

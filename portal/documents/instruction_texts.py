"""The wording of the buyer's return instructions in each buyer language (the buyer is not a portal user)."""

from __future__ import annotations

# Each language must have every key of English; a test checks it.
TEXTS: dict[str, dict[str, str]] = {
    "en": {
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
        "payer_seller": "We pay for return shipping: use the prepaid label or keep the receipt and we "
                        "refund it.",
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
    },
    "de": {
        "title": "Anleitung zur Rücksendung",
        "greeting": "Hallo {name}, Ihre Rücksendung zur Bestellung {order} ist genehmigt. Bitte gehen "
                    "Sie so vor.",
        "rma": "Ihre Rücksendenummer (RMA)",
        "rma_note": "Schreiben Sie diese Nummer gut lesbar außen auf das Paket und legen Sie dieses "
                    "Blatt hinein.",
        "address": "Senden Sie das Paket an",
        "address_note": "Übernehmen Sie die Adresse genau so, Zeile für Zeile.",
        "ship_by": "Versand bis",
        "ship_by_time": "{date}, {time} Ihre Zeit ({zone})",
        "ship_by_none": "So bald wie möglich",
        "carriers": "Nutzen Sie einen Versand mit Sendungsverfolgung",
        "carriers_list": "Senden Sie das Paket mit einem dieser Dienste: {carriers}.",
        "untracked": "Bitte keine unversicherte Post ohne Sendungsverfolgung. Ohne Sendungsnummer kann "
                     "niemand "
        "die Zustellung nachweisen, und Ihre Erstattung kann sich verzögern oder abgelehnt werden.",
        "keep": "Bewahren Sie den Einlieferungsbeleg und die Sendungsnummer auf, bis Ihre Erstattung da ist.",
        "payer_buyer": "Die Kosten der Rücksendung tragen Sie.",
        "payer_seller": "Die Kosten der Rücksendung tragen wir: Nutzen Sie das Versandetikett oder "
                        "bewahren Sie "
        "den Beleg auf, wir erstatten ihn.",
        "customs": "Zollerklärung (Rücksendung ins Ausland)",
        "customs_text": "Deklarieren Sie den Inhalt als \u201e{description}\u201c mit dem tatsächlichen "
                        "Wert von "
        "{value}. Bitte nicht als Geschenk kennzeichnen.",
        "duties": "Einfuhrzölle und Steuern trägt der Absender (DDP).",
        "items": "Zurückzusendende Artikel",
        "item": "Artikel",
        "sku": "Artikelnummer",
        "quantity": "Menge",
        "checklist": "Checkliste zum Verpacken",
        "check_tags": "Etiketten noch dran, Artikel unbenutzt und sauber",
        "check_box": "In der Originalverpackung",
        "check_parts": "Alle Teile, Zubehör und Anleitungen dabei",
        "check_rma": "Dieses Blatt oder die RMA-Nummer liegt im Paket",
        "check_sealed": "Paket verschlossen, RMA-Nummer außen notiert",
        "footer": "Fragen? Antworten Sie auf unsere Nachricht und nennen Sie Ihre RMA-Nummer.",
    },
    "ms": {
        "title": "Arahan pemulangan",
        "greeting": "Hai {name}, pemulangan anda untuk pesanan {order} telah diluluskan. Sila ikut "
                    "langkah ini.",
        "rma": "Nombor pemulangan anda (RMA)",
        "rma_note": "Tulis nombor ini dengan jelas di luar bungkusan dan masukkan halaman ini ke dalamnya.",
        "address": "Hantar bungkusan ke",
        "address_note": "Salin alamat tepat seperti yang ditunjukkan, baris demi baris.",
        "ship_by": "Hantar sebelum",
        "ship_by_time": "{date}, {time} waktu anda ({zone})",
        "ship_by_none": "Secepat mungkin",
        "carriers": "Guna kurier yang boleh dijejak",
        "carriers_list": "Hantar bungkusan dengan salah satu daripada: {carriers}.",
        "untracked": "Jangan guna pos tanpa penjejakan. Tanpa nombor penjejakan, tiada siapa dapat "
                     "membuktikan "
        "bungkusan sampai, dan bayaran balik anda mungkin lewat atau ditolak.",
        "keep": "Simpan resit dan nombor penjejakan sehingga bayaran balik anda diterima.",
        "payer_buyer": "Kos penghantaran pemulangan ditanggung oleh anda.",
        "payer_seller": "Kos penghantaran pemulangan ditanggung oleh kami: guna label prabayar atau "
                        "simpan resit, "
        "kami akan membayar balik.",
        "customs": "Pengisytiharan kastam (pemulangan rentas sempadan)",
        "customs_text": "Isytiharkan kandungan sebagai \u201c{description}\u201d dengan nilai sebenar "
                        "{value}. "
        "Jangan tandakan bungkusan sebagai hadiah.",
        "duties": "Duti import dan cukai ditanggung oleh pengirim (DDP).",
        "items": "Barang yang dipulangkan",
        "item": "Barang",
        "sku": "SKU",
        "quantity": "Kuantiti",
        "checklist": "Senarai semak pembungkusan",
        "check_tags": "Tag masih dilekatkan, barang tidak digunakan dan bersih",
        "check_box": "Dalam kotak atau pembungkusan asal",
        "check_parts": "Semua bahagian, aksesori dan manual disertakan",
        "check_rma": "Halaman ini, atau nombor RMA, di dalam bungkusan",
        "check_sealed": "Bungkusan dimeterai dan nombor RMA ditulis di luar",
        "footer": "Ada soalan? Balas mesej kami dan nyatakan nombor RMA anda.",
    },
    "zh": {
        "title": "退货说明",
        "greeting": "{name}，您好！您在订单 {order} 中的退货申请已获批准，请按以下步骤操作。",
        "rma": "您的退货编号（RMA）",
        "rma_note": "请将此编号清楚地写在包裹外面，并将本页放入包裹内。",
        "address": "请将包裹寄往",
        "address_note": "请逐行照抄以下地址。",
        "ship_by": "最迟寄出时间",
        "ship_by_time": "{date} {time}（您的当地时间，{zone}）",
        "ship_by_none": "请尽快寄出",
        "carriers": "请使用可追踪的快递",
        "carriers_list": "请使用以下快递之一寄出：{carriers}。",
        "untracked": "请勿使用无追踪的平邮。没有运单号就无法证明包裹已送达，您的退款可能会延迟或被拒绝。",
        "keep": "请保留寄件收据和运单号，直到退款到账。",
        "payer_buyer": "退货运费由您承担。",
        "payer_seller": "退货运费由我们承担：请使用预付面单，或保留收据，我们将退还运费。",
        "customs": "海关申报（跨境退货）",
        "customs_text": "请将内件如实申报为“{description}”，申报价值 {value}。请勿申报为礼品。",
        "duties": "进口关税和税费由寄件人承担（DDP）。",
        "items": "退回的商品",
        "item": "商品",
        "sku": "SKU",
        "quantity": "数量",
        "checklist": "打包检查清单",
        "check_tags": "吊牌完好，商品未使用且干净",
        "check_box": "使用原包装盒或原包装",
        "check_parts": "所有配件和说明书齐全",
        "check_rma": "本页或 RMA 编号已放入包裹",
        "check_sealed": "包裹已封好，外面写有 RMA 编号",
        "footer": "有疑问？请回复我们的消息并注明您的 RMA 编号。",
    },
}

DEFAULT_LANGUAGE = "en"


def texts_for(language: str | None) -> tuple[str, dict[str, str]]:
    """The language to use for a buyer (its primary subtag when known, else English) and its texts."""
    primary = (language or DEFAULT_LANGUAGE).replace("_", "-").split("-")[0].lower()
    lang = primary if primary in TEXTS else DEFAULT_LANGUAGE
    return lang, TEXTS[lang]

"""What the demo shop's agents write to buyers in their own words, and the reasons they give, per language."""

from __future__ import annotations

SIGNATURE = {"en": "Lumen & Co Customer Care", "de": "Ihr Lumen & Co Kundenservice",
             "ms": "Khidmat Pelanggan Lumen & Co", "zh": "Lumen & Co 客服团队"}

REPLIES: dict[str, dict[str, str]] = {
    "en": {
        "ack": "Hi {name}, thanks for reaching out and sorry about this. We're looking into your request "
               "now and will get back to you shortly.",
        "pod": "Hi {name}, the carrier shows your parcel as delivered on {date}, with proof of delivery. "
               "Could you check with neighbours, your mailbox or building reception?",
        "redelivery": "Hi {name}, thanks for confirming. We've asked the carrier to redeliver; expect it "
                      "around {date}.",
    },
    "de": {
        "ack": "Hallo {name}, danke für Ihre Nachricht, das tut uns leid. Wir prüfen Ihr Anliegen und melden "
               "uns in Kürze.",
        "pod": "Hallo {name}, laut Zusteller wurde Ihr Paket am {date} zugestellt, ein Zustellnachweis liegt "
               "vor. Könnten Sie bitte bei Nachbarn, im Briefkasten oder am Empfang nachsehen?",
        "redelivery": "Hallo {name}, danke für die Bestätigung. Wir haben eine erneute Zustellung "
                      "beauftragt, voraussichtlich um den {date}.",
    },
    "ms": {
        "ack": "Hai {name}, terima kasih kerana menghubungi kami dan maaf atas kesulitan ini. Kami sedang "
               "menyemak permintaan anda dan akan maklumkan segera.",
        "pod": "Hai {name}, kurier menunjukkan bungkusan anda telah dihantar pada {date}, dengan bukti "
               "penghantaran. Boleh semak dengan jiran, peti surat atau kaunter pengawal?",
        "redelivery": "Hai {name}, terima kasih kerana mengesahkan. Kami telah minta kurier hantar semula, "
                      "dijangka sekitar {date}.",
    },
    "zh": {
        "ack": "{name}您好，感谢您的联系，很抱歉给您带来不便。我们正在处理您的申请，会尽快回复您。",
        "pod": "{name}您好，快递记录显示您的包裹已于{date}送达，并有签收证明。麻烦您问一下邻居、"
               "查看信箱或大楼前台。",
        "redelivery": "{name}您好，感谢确认。我们已通知快递重新派送，预计{date}左右送达。",
    },
}

REJECT_REASONS: dict[str, dict[str, str]] = {
    "en": {"personalised": "personalised items cannot be returned.",
           "used": "the item shows clear signs of wear and the tags were removed.",
           "no_fault": "the photos show no defect, and the item matches its description.",
           "delivered": "the carrier's proof of delivery shows the parcel was delivered to your address."},
    "de": {"personalised": "personalisierte Artikel sind vom Umtausch ausgeschlossen.",
           "used": "der Artikel weist deutliche Gebrauchsspuren auf und die Etiketten fehlen.",
           "no_fault": "auf den Fotos ist kein Mangel zu sehen, und der Artikel entspricht der Beschreibung.",
           "delivered": "der Zustellnachweis zeigt, dass das Paket an Ihre Adresse geliefert wurde."},
    "ms": {"personalised": "barang yang diperibadikan tidak boleh dipulangkan.",
           "used": "barang ada kesan penggunaan yang jelas dan tag telah dibuang.",
           "no_fault": "gambar tidak menunjukkan sebarang kecacatan, dan barang sepadan dengan penerangan.",
           "delivered": "bukti penghantaran kurier menunjukkan bungkusan telah dihantar ke alamat anda."},
    "zh": {"personalised": "定制商品不支持退货。",
           "used": "商品有明显使用痕迹，吊牌也已拆除。",
           "no_fault": "照片中看不出任何瑕疵，商品与描述相符。",
           "delivered": "快递的签收证明显示包裹已送达您的地址。"},
}


def reply(language: str, template: str, **fields: str) -> str:
    lang = language if language in REPLIES else "en"
    body = REPLIES[lang][template].format(**fields)
    return f"{body}\n\n{SIGNATURE[lang]}"

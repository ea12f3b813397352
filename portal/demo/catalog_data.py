"""Fixed tables of the demo shop: markets, return addresses, carriers, places, names and products."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

SHOP_NAME = "Lumen & Co"
COMPANY_NAME = "Lumen & Co"
SHOP_EXTERNAL_ID = "7495018236641182001"

# USD per unit of each currency, as the finance team configured them for value_usd.
USD_RATES: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "GBP": Decimal("1.27"),
    "EUR": Decimal("1.08"),
    "MYR": Decimal("0.21"),
    "CNY": Decimal("0.14"),
}


@dataclass(frozen=True)
class MarketSpec:
    code: str
    name: str
    currency: str
    timezone: str
    language: str
    return_window_days: int
    share: float  # of the shop's orders
    # Carriers that deliver orders: cross-border from China, then the local ones for stock held in-country.
    crossborder_carriers: tuple[str, ...]
    local_carriers: tuple[str, ...]
    entry_hub: str
    sorting_hubs: tuple[str, ...]
    cities: tuple[str, ...]


MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec("US", "United States", "USD", "America/New_York", "en", 30, 0.45,
               ("YunExpress", "4PX"), ("USPS", "UPS", "FedEx"), "Los Angeles, US",
               ("Los Angeles, US", "Chicago, US", "Dallas, US", "Jersey City, US"),
               ("Houston, TX", "Brooklyn, NY", "Atlanta, GA", "Phoenix, AZ", "Columbus, OH", "Denver, CO",
                "Charlotte, NC", "Seattle, WA", "Orlando, FL", "San Diego, CA")),
    MarketSpec("UK", "United Kingdom", "GBP", "Europe/London", "en", 30, 0.20,
               ("YunExpress", "Yodel Direct"), ("Royal Mail Tracked", "Evri", "DPD"), "London Heathrow, UK",
               ("Coventry, UK", "Warrington, UK", "Daventry, UK"),
               ("Manchester", "Leeds", "Bristol", "Glasgow", "Birmingham", "Cardiff", "Nottingham",
                "Brighton")),
    MarketSpec("DE", "Germany", "EUR", "Europe/Berlin", "de", 30, 0.18,
               ("YunExpress", "Cainiao"), ("DHL", "Hermes", "DPD"), "Frankfurt am Main, DE",
               ("Leipzig, DE", "Hamburg, DE", "Köln, DE"),
               ("Berlin", "München", "Hamburg", "Köln", "Stuttgart", "Düsseldorf", "Dresden",
                "Nürnberg")),
    MarketSpec("MY", "Malaysia", "MYR", "Asia/Kuala_Lumpur", "ms", 15, 0.17,
               ("J&T Express", "Cainiao"), ("J&T Express", "Ninja Van", "Pos Laju"), "Sepang, MY",
               ("Shah Alam, MY", "Bayan Lepas, MY", "Johor Bahru, MY"),
               ("Kuala Lumpur", "Petaling Jaya", "Johor Bahru", "Georgetown", "Ipoh", "Kota Kinabalu",
                "Kuching", "Seremban")),
)

# Where cross-border parcels start their journey.
ORIGIN_HUBS: tuple[str, ...] = ("Shenzhen, CN", "Guangzhou, CN", "Yiwu, CN", "Dongguan, CN")
EXPORT_HUBS: tuple[str, ...] = ("Hong Kong, HK", "Shenzhen, CN", "Guangzhou, CN")


@dataclass(frozen=True)
class AddressSpec:
    market: str
    kind: str  # an AddressKind value
    label: str
    street: str
    city: str
    region: str | None
    postcode: str
    country: str
    phone: str
    carriers: str
    is_default: bool


RETURN_ADDRESSES: tuple[AddressSpec, ...] = (
    AddressSpec("US", "local_warehouse", "Ontario CA returns centre", "2150 E Francis St, Unit B", "Ontario",
                "CA", "91761", "US", "+1 909-555-0147", "UPS,FedEx,USPS", True),
    AddressSpec("US", "consolidation_warehouse", "Shenzhen consolidation (US)",
                "Bldg 3, Huafeng Logistics Park, 88 Pingxin North Rd, Longgang District", "Shenzhen",
                "Guangdong", "518117", "CN", "+86 755 2890 4412", "UPS,FedEx,EMS", False),
    AddressSpec("UK", "local_warehouse", "Lutterworth returns centre", "Unit 4, Magna Park, Hunter Boulevard",
                "Lutterworth", "Leicestershire", "LE17 4XN", "GB", "+44 1632 960418",
                "Royal Mail Tracked,DPD,Evri", True),
    AddressSpec("UK", "consolidation_warehouse", "Dongguan consolidation (UK)",
                "No. 16 Chang'an Xingfa Rd, Wusha Industrial Zone", "Dongguan", "Guangdong", "523860", "CN",
                "+86 769 8533 1207", "DHL,FedEx,EMS", False),
    AddressSpec("DE", "local_warehouse", "Retourenzentrum Duisburg", "Am Hüttenwerk 12", "Duisburg",
                "Nordrhein-Westfalen", "47249", "DE", "+49 203 5553 0147", "DHL,DPD,Hermes", True),
    AddressSpec("DE", "consolidation_warehouse", "Dongguan consolidation (EU)",
                "No. 16 Chang'an Xingfa Rd, Wusha Industrial Zone", "Dongguan", "Guangdong", "523860", "CN",
                "+86 769 8533 1208", "DHL,FedEx,EMS", False),
    AddressSpec("MY", "virtual_address", "Shah Alam return point (virtual)",
                "No. 12, Jalan Pengapit 15/19, Seksyen 15", "Shah Alam", "Selangor", "40200", "MY",
                "+60 3-5521 0190", "J&T,Pos Laju,Ninja Van", True),
    AddressSpec("MY", "consolidation_warehouse", "Shenzhen consolidation (SEA)",
                "Bldg 3, Huafeng Logistics Park, 88 Pingxin North Rd, Longgang District", "Shenzhen",
                "Guangdong", "518117", "CN", "+86 755 2890 4415", "J&T,EMS,DHL", False),
)

# Warehouse staff who sign inspections, per warehouse city.
INSPECTORS: dict[str, tuple[str, ...]] = {
    "Ontario": ("Maria G.", "Kevin T.", "Luis R."),
    "Lutterworth": ("Priya S.", "Tom W."),
    "Duisburg": ("Katrin B.", "Deniz Y."),
    "Shah Alam": ("Aiman H.", "Siew Lan C."),
    "Shenzhen": ("Chen Jie", "Li Na"),
    "Dongguan": ("Zhang Wei", "Huang Min"),
}

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "US": ("Jordan", "Taylor", "Ashley", "Brianna", "Marcus", "Destiny", "Tyler", "Kayla", "Jasmine", "Ethan",
           "Madison", "Carlos", "Aaliyah", "Hannah", "Devon", "Samantha", "Chris", "Maya", "Gabriel",
           "Emily"),
    "UK": ("Olivia", "Amelia", "Harry", "Sophie", "Chloe", "Jack", "Isla", "Charlotte", "George", "Freya",
           "Aisha", "Ellie", "Oscar", "Grace", "Mohammed", "Holly", "Callum", "Megan"),
    "DE": ("Lena", "Jonas", "Leonie", "Lukas", "Mia", "Anna", "Felix", "Sophie", "Paul", "Laura", "Emre",
           "Hannah", "Tim", "Julia", "Niklas", "Marie", "Aylin", "Jan"),
    "MY": ("Nur", "Siti", "Aisyah", "Muhammad", "Farah", "Amir", "Hafiz", "Nurul", "Aina", "Izzat",
           "Syafiqah", "Danish", "Kavitha", "Arjun"),
}
MY_CHINESE_NAMES: tuple[str, ...] = ("Wei Ling", "Jia Hui", "Kah Wai", "Mei Yee", "Jun Hao", "Xin Yi",
                                     "Chee Keong", "Hui Min", "Zi Xuan", "Kai Wen")
SURNAME_INITIALS: dict[str, str] = {
    "US": "ABCDGHJKLMNPRSTW", "UK": "ABCDEFHJKMPRSTW", "DE": "BFHKLMNRSSWZ", "MY": "AHIKMRSYZ",
}
MY_CHINESE_SURNAMES: str = "TLWCGNOKY"  # Tan, Lim, Wong, Chong, Goh, Ng, Ong, Koh, Yap

CUSTOM_NOTES: dict[str, tuple[str, ...]] = {
    "jewelry": ('Engraving: "Always & Forever"', 'Engraving: "M + J 06.14"', "Engraving: Aaliyah",
                'Engraving: "Mama"', "Initials: LK", 'Engraving: "Est. 2019"'),
    "apparel": ("Custom size: bust 88 cm, waist 70 cm, hips 96 cm", "Custom length: 152 cm",
                "Custom size: chest 104 cm, sleeve 64 cm"),
    "home": ("Photo upload: family_beach.jpg", 'Text: "The Kowalskis"', "Photo upload: wedding_day.png"),
    "accessories": ('Name: "SOFIA"', "Initials: J.R.", 'Text: "Kuala Lumpur 2024"'),
}


@dataclass(frozen=True)
class ProductLine:
    """One kind of product: title parts, a USD price range and how often it is made to order."""

    category: str
    names: tuple[str, ...]
    variants: tuple[str, ...]
    low: int
    high: int
    customizable: bool = False


PRODUCT_LINES: tuple[ProductLine, ...] = (
    ProductLine("jewelry", ("Hoop Earrings", "Huggie Earrings", "Paperclip Chain Necklace", "Stacking Ring",
                            "Snake Chain Bracelet", "Pearl Drop Earrings", "Herringbone Necklace", "Anklet"),
                ("18K Gold Plated", "Sterling Silver", "Rose Gold Plated", "Titanium Steel"), 8, 45),
    ProductLine("jewelry", ("Tennis Bracelet", "Solitaire Ring", "Eternity Band", "Stud Earrings",
                            "Halo Pendant"), ("Moissanite 1ct", "Moissanite 2ct", "Lab Diamond 0.5ct",
                                              "14K Solid Gold"), 180, 900),
    ProductLine("jewelry", ("Engraved Bar Necklace", "Name Necklace", "Signet Ring", "Coordinates Bracelet"),
                ("Sterling Silver", "18K Gold Plated", "Rose Gold Plated"), 24, 89, customizable=True),
    ProductLine("apparel", ("Wide Leg Trousers", "Oversized Cotton Hoodie", "Ribbed Knit Cardigan",
                            "Linen Button-Down Shirt", "Satin Slip Dress", "Seamless Sports Bra",
                            "Cargo Joggers", "Puffer Vest", "Pleated Midi Skirt", "Waffle Knit Set"),
                ("Black", "Sage Green", "Oatmeal", "Dusty Pink", "Navy", "Chocolate Brown"), 12, 80),
    ProductLine("apparel", ("Made-to-Measure Bridesmaid Dress", "Custom-Fit Tailored Blazer"),
                ("Champagne", "Emerald", "Black"), 55, 80, customizable=True),
    ProductLine("electronics", ("Wireless Earbuds ANC", "Magnetic Power Bank 10000mAh",
                                "Mini Projector 1080p",
                                "LED Ring Light 18 in", "75% Mechanical Keyboard", "Phone Gimbal Stabilizer",
                                "Portable Bluetooth Speaker", "65W GaN USB-C Charger", "4K Dash Cam",
                                "Smart Ring Health Tracker"), ("Black", "White", "Pro", "Lite"), 15, 300),
    ProductLine("beauty", ("Vitamin C Brightening Serum 30ml", "Heatless Curling Rod Set", "Lip Oil Trio",
                           "Jade Gua Sha Set", "Press-On Nails 24pc", "Brow Lamination Kit",
                           "Hyaluronic Sheet Masks 10pc", "Tinted Sunscreen SPF50"),
                ("Original", "Sensitive", "Travel Size", "Value Pack"), 6, 60),
    ProductLine("home", ("Sunset Projection Lamp", "Ultrasonic Aroma Diffuser", "Linen Duvet Cover Set",
                         "Ceramic Pour-Over Set", "Magnetic Spice Rack", "Washable Boho Rug",
                         "Floating Wall Shelves", "Silk Pillowcase"),
                ("Sand", "Terracotta", "Sage", "White", "Charcoal"), 10, 150),
    ProductLine("home", ("Custom Photo Night Light", "Personalised Star Map Print"),
                ("Warm White", "RGB", "A3", "A4"), 19, 49, customizable=True),
    ProductLine("accessories", ("Vegan Leather Crossbody Bag", "Silk Scrunchies 6-Pack",
                                "Polarised Cat-Eye Sunglasses", "Canvas Tote", "Minimalist Card Wallet",
                                "Claw Clip Set"), ("Black", "Tan", "Cream", "Tortoise"), 8, 80),
    ProductLine("accessories", ("Personalised Phone Case", "Monogram Keyring"),
                ("Clear", "Matte Black", "Pink"), 12, 35, customizable=True),
)

# USD price bands of products whose line spans very different things (a charger is not a projector).
PRICE_BANDS: dict[str, tuple[int, int]] = {
    "Wireless Earbuds ANC": (25, 120), "Magnetic Power Bank 10000mAh": (19, 45),
    "Mini Projector 1080p": (89, 300), "LED Ring Light 18 in": (29, 79), "75% Mechanical Keyboard": (59, 160),
    "Phone Gimbal Stabilizer": (49, 139), "Portable Bluetooth Speaker": (25, 99),
    "65W GaN USB-C Charger": (15, 45),
    "4K Dash Cam": (69, 199), "Smart Ring Health Tracker": (99, 299), "Linen Duvet Cover Set": (59, 150),
    "Washable Boho Rug": (45, 150), "Silk Pillowcase": (15, 45), "Magnetic Spice Rack": (12, 35),
    "Ceramic Pour-Over Set": (25, 69),
}

# How the 200 SKUs split between categories, and how much each category sells.
CATEGORY_SKUS: dict[str, int] = {
    "jewelry": 55, "apparel": 50, "electronics": 30, "beauty": 25, "home": 25, "accessories": 15,
}
CATEGORY_CODES: dict[str, str] = {
    "jewelry": "JW", "apparel": "AP", "electronics": "EL", "beauty": "BT", "home": "HM", "accessories": "AC",
}
APPAREL_SIZES: tuple[str, ...] = ("XS", "S", "M", "L", "XL")

# (theme, name) of the ad campaigns; the id gets the launch month in front.
AD_CAMPAIGNS: tuple[tuple[str, str, float], ...] = (
    ("GLOW", "Glow-up skincare push", 1.0),
    ("GIFTS", "Gift guide retargeting", 1.4),
    ("PEARL", "Pearl collection launch", 1.2),
    ("LUXE", "Fine jewelry prospecting", 0.9),
    ("FIT", "Activewear lookalikes", 1.0),
    ("NEST", "Cosy home bundle", 0.7),
    ("TECH", "Gadget deals", 0.8),
    ("FLASH", "48h flash sale", 1.5),
)
OTHER_CAMPAIGNS: tuple[tuple[str, str, str], ...] = (
    ("affiliate", "AFF-{ym}-CREATORS", "Creator affiliate programme"),
    ("affiliate", "AFF-{ym}-MICRO", "Micro-influencer seeding"),
    ("live", "LIVE-{ym}-FRIDAY", "Friday night live drop"),
    ("video", "VID-{ym}-UNBOX", "Unboxing short videos"),
)

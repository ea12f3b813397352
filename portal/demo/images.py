"""Small generated PNG pictures for the demo: product shots, buyer photos, proof of delivery, documents."""

from __future__ import annotations

import io
import random
from functools import cache

from PIL import Image, ImageDraw, ImageFont

CATEGORY_COLOURS: dict[str, tuple[int, int, int]] = {
    "jewelry": (246, 228, 201),
    "apparel": (214, 232, 222),
    "electronics": (215, 222, 238),
    "beauty": (246, 218, 226),
    "home": (236, 230, 214),
    "accessories": (229, 220, 240),
}
INK = (40, 40, 48)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _png(image: Image.Image) -> bytes:
    # A 64-colour palette keeps the flat drawings at a couple of kilobytes; the fast octree keeps it quick.
    buffer = io.BytesIO()
    image.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(buffer, "PNG")
    return buffer.getvalue()


def _draw_shape(draw: ImageDraw.ImageDraw, category: str, box: tuple[int, int, int, int],
                colour: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = box
    cx, cy, w, h = (x0 + x1) // 2, (y0 + y1) // 2, x1 - x0, y1 - y0
    if category == "jewelry":
        draw.ellipse(box, outline=colour, width=max(4, w // 12))
        stone = [(cx, y0 - h // 6), (cx - w // 8, y0 + h // 20), (cx + w // 8, y0 + h // 20)]
        draw.polygon(stone, fill=colour)
    elif category == "apparel":
        draw.polygon([(x0, y0 + h // 5), (x0 + w // 4, y0), (x1 - w // 4, y0), (x1, y0 + h // 5),
                      (x1 - w // 6, y0 + h // 3), (x1 - w // 6, y1), (x0 + w // 6, y1),
                      (x0 + w // 6, y0 + h // 3)], fill=colour)
    elif category == "electronics":
        draw.rounded_rectangle((x0, y0 + h // 6, x1, y1 - h // 6), radius=w // 10, fill=colour)
        draw.ellipse((cx - w // 8, cy - w // 8, cx + w // 8, cy + w // 8), fill=(250, 250, 250))
    elif category == "beauty":
        draw.rounded_rectangle((cx - w // 5, y0 + h // 4, cx + w // 5, y1), radius=w // 12, fill=colour)
        draw.rectangle((cx - w // 12, y0, cx + w // 12, y0 + h // 4), fill=INK)
    elif category == "home":
        draw.polygon([(cx, y0), (x1, cy), (x0, cy)], fill=colour)
        draw.rectangle((x0 + w // 8, cy, x1 - w // 8, y1), fill=colour)
    else:
        draw.rounded_rectangle((x0, y0 + h // 3, x1, y1), radius=w // 12, fill=colour)
        handle = (x0 + w // 4, y0, x1 - w // 4, y0 + h * 2 // 3)
        draw.arc(handle, 180, 360, fill=colour, width=max(3, w // 20))


@cache
def _product_base(category: str, shade: int) -> Image.Image:
    """The background and shape of a product shot, shared by every SKU of the category and shade."""
    image = Image.new("RGB", (320, 320), CATEGORY_COLOURS.get(category, (230, 230, 230)))
    draw = ImageDraw.Draw(image)
    colour = (70 + shade * 40, 80 + shade * 25, 110 - shade * 15)
    _draw_shape(draw, category, (90, 60, 230, 210), colour)
    return image


def product_image(sku: str, title: str, category: str, shade: int) -> bytes:
    image = _product_base(category, shade % 4).copy()
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 240, 320, 320), fill=(255, 255, 255))
    draw.text((14, 250), sku, fill=INK, font=_font(20))
    # The bundled font has no en dash.
    draw.text((14, 282), title.replace("–", "-")[:38], fill=(90, 90, 100), font=_font(13))
    return _png(image)


def buyer_photo(rng: random.Random, category: str, problem: str, label: str) -> bytes:
    """A buyer's phone photo of the item: the product on a table, marked where the problem is."""
    table = rng.choice([(198, 170, 140), (222, 222, 216), (160, 128, 100), (235, 229, 220)])
    image = Image.new("RGB", (320, 240), table)
    draw = ImageDraw.Draw(image)
    x, y = rng.randint(60, 120), rng.randint(30, 60)
    _draw_shape(draw, category, (x, y, x + 140, y + 140), (rng.randint(50, 120), 90, 120))
    if problem in ("damaged", "quality", "missing_parts"):
        px, py = x + rng.randint(30, 110), y + rng.randint(30, 110)
        for _ in range(4):
            nx, ny = px + rng.randint(-40, 40), py + rng.randint(-40, 40)
            draw.line((px, py, nx, ny), fill=(20, 20, 20), width=3)
            px, py = nx, ny
    draw.ellipse((x + 20, y + 20, x + 120, y + 120), outline=(220, 30, 30), width=4)
    draw.text((8, 220), label, fill=INK, font=_font(12))
    return _png(image)


def doorstep_photo(rng: random.Random, stamp: str, tracking: str) -> bytes:
    """A courier's proof-of-delivery photo: a parcel at a door, with the scanner's time stamp."""
    image = Image.new("RGB", (320, 240), (150, 150, 146))
    draw = ImageDraw.Draw(image)
    door = rng.choice([(120, 60, 50), (40, 70, 110), (230, 230, 225), (60, 90, 60)])
    draw.rectangle((110, 10, 230, 200), fill=door)
    draw.ellipse((205, 100, 215, 110), fill=(210, 180, 60))
    px = rng.randint(40, 150)
    draw.rectangle((px, 150, px + 90, 215), fill=(190, 150, 100))
    draw.line((px, 182, px + 90, 182), fill=(150, 110, 70), width=6)
    draw.rectangle((0, 218, 320, 240), fill=(0, 0, 0))
    draw.text((6, 222), f"{stamp}  {tracking}", fill=(255, 220, 60), font=_font(12))
    return _png(image)


def signature_image(rng: random.Random, name: str, stamp: str) -> bytes:
    image = Image.new("RGB", (320, 140), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    x, y = 30, 70
    points = [(x, y)]
    for _ in range(14):
        x += rng.randint(8, 20)
        y = max(30, min(100, y + rng.randint(-25, 25)))
        points.append((x, y))
    draw.line(points, fill=(20, 30, 120), width=3, joint="curve")
    draw.line((20, 110, 300, 110), fill=(160, 160, 160), width=1)
    draw.text((20, 116), f"Signed: {name}   {stamp}", fill=INK, font=_font(12))
    return _png(image)


def packing_photo(rng: random.Random, category: str, label: str) -> bytes:
    """The warehouse's photo of the item packed in its box before it left."""
    image = Image.new("RGB", (320, 240), (205, 205, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 280, 210), fill=(196, 154, 104))
    draw.rectangle((60, 60, 260, 190), fill=(240, 236, 228))
    _draw_shape(draw, category, (110, 75, 210, 175), (rng.randint(60, 130), 90, 120))
    draw.rectangle((40, 118, 280, 132), fill=(170, 130, 80))
    draw.text((8, 220), label, fill=INK, font=_font(12))
    return _png(image)


def document_image(title: str, lines: list[str], stamp: str | None = None) -> bytes:
    """A one-page scanned document: a QC certificate, an inspection sheet."""
    image = Image.new("RGB", (320, 420), (252, 252, 248))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 320, 44), fill=(34, 52, 86))
    draw.text((14, 13), title, fill=(255, 255, 255), font=_font(15))
    y = 62
    for line in lines:
        draw.text((16, y), line, fill=INK, font=_font(12))
        y += 22
    if stamp:
        draw.ellipse((200, 300, 300, 400), outline=(30, 140, 60), width=4)
        draw.text((222, 340), stamp, fill=(30, 140, 60), font=_font(16))
    return _png(image)

"""The RMA number as a Code 128 barcode and a QR code, drawn as inline SVG so the PDF keeps them sharp."""

from __future__ import annotations

import qrcode
from barcode.codex import Code128
from markupsafe import Markup, escape
from qrcode.constants import ERROR_CORRECT_M


def code128_modules(value: str) -> str:
    """The barcode as modules from left to right: '1' a bar module, '0' a space module (no quiet zone)."""
    return Code128(value).build()[0]


def _runs(row: str | list[bool]) -> list[tuple[int, int]]:
    """(start, length) of each dark run in a row of modules."""
    runs: list[tuple[int, int]] = []
    start = None
    for x, cell in enumerate([*row, False]):
        dark = cell is True or cell == "1"
        if dark and start is None:
            start = x
        elif not dark and start is not None:
            runs.append((start, x - start))
            start = None
    return runs


def code128_svg(value: str, height: int = 40, quiet: int = 10) -> Markup:
    """A Code 128 barcode whose width is one user unit per module, scaled by CSS to its box."""
    modules = code128_modules(value)
    width = len(modules) + 2 * quiet
    path = "".join(f"M{quiet + start} 0h{length}v{height}h-{length}z" for start, length in _runs(modules))
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="barcode" viewBox="0 0 {w} {h}" '
        'preserveAspectRatio="none" role="img" aria-label="{label}">'
        '<rect width="{w}" height="{h}" fill="#fff"/>'
        '<path d="{d}" fill="#000"/></svg>'
    ).format(w=width, h=height, d=path, label=escape(value))


def qr_matrix(value: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(value)
    code.make(fit=True)
    return code.get_matrix()


def qr_svg(value: str, quiet: int = 4) -> Markup:
    matrix = qr_matrix(value)
    size = len(matrix) + 2 * quiet
    path = "".join(
        f"M{quiet + start} {quiet + y}h{length}v1h-{length}z"
        for y, row in enumerate(matrix)
        for start, length in _runs(row)
    )
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="qrcode" viewBox="0 0 {s} {s}" role="img" '
        'aria-label="{label}"><rect width="{s}" height="{s}" fill="#fff"/><path d="{d}" fill="#000"/></svg>'
    ).format(s=size, d=path, label=escape(value))

"""Checking uploaded evidence by its content, not its name: only real images, videos and PDFs get in."""

from __future__ import annotations

import io
import logging
import struct
import unicodedata

from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader

from portal.domain.enums import EvidenceKind
from portal.domain.lifecycle import N_, LifecycleError

MB = 1024 * 1024
LIMITS = {"image": 10 * MB, "video": 30 * MB, "application/pdf": 10 * MB}
# A 40-megapixel photo is more than any phone takes; decoding one costs about 160 MB, and a
# thumbnail of a larger one would cost a web worker far more.
MAX_PIXELS = 40_000_000
MAX_FILENAME = 200
_BOX = struct.Struct(">I4s")


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are, or None for anything the portal does not accept."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:10] == b"qt" else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def check_upload(data: bytes, kind: EvidenceKind) -> str:
    """The content type of a valid upload; raises with a message the agent understands otherwise."""
    if not data:
        raise LifecycleError(N_("The file is empty."))
    content_type = sniff(data)
    if content_type is None:
        raise LifecycleError(
            N_("Only photos (PNG, JPEG, WebP, GIF), videos (MP4, MOV, WebM) and PDF documents can be added.")
        )
    family = content_type.split("/")[0] if content_type != "application/pdf" else content_type
    limit = LIMITS[family]
    if len(data) > limit:
        raise LifecycleError(
            N_("The file is %(size)d MB; the limit for this type is %(limit)d MB."),
            size=len(data) // MB + 1,
            limit=limit // MB,
        )
    if kind in (EvidenceKind.PHOTO, EvidenceKind.PACKING) and family != "image":
        raise LifecycleError(N_("A photo must be an image file."))
    if kind == EvidenceKind.VIDEO and family != "video":
        raise LifecycleError(N_("A video must be a video file."))
    if family == "image":
        _check_image(data)
    elif family == "video":
        _check_video(data, content_type)
    else:
        check_pdf(data)
    return content_type


def _check_image(data: bytes) -> None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            # Opening reads the header only: the size is known before a single pixel is decoded.
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise LifecycleError(
                    N_(
                        "The image is %(width)s × %(height)s pixels; "
                        "at most %(limit)s megapixels are accepted."
                    ),
                    width=width,
                    height=height,
                    limit=MAX_PIXELS // 1_000_000,
                )
            image.verify()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError):
        raise LifecycleError(N_("The image is damaged and cannot be shown.")) from None


def iso_boxes(data: bytes) -> list[bytes] | None:
    """The top-level box types of an ISO base media file (MP4, MOV), or None when they do not add up."""
    boxes, offset = [], 0
    while offset < len(data):
        if offset + 8 > len(data):
            return None
        size, kind = _BOX.unpack_from(data, offset)
        header = 8
        if size == 1:
            if offset + 16 > len(data):
                return None
            size, header = struct.unpack_from(">Q", data, offset + 8)[0], 16
        elif size == 0:
            size = len(data) - offset
        if size < header or offset + size > len(data) or not all(0x20 <= b < 0x7F for b in kind):
            return None
        boxes.append(kind)
        offset += size
    return boxes


def _check_video(data: bytes, content_type: str) -> None:
    if content_type == "video/webm":
        # EBML header, whose DocType element (0x4282) says webm.
        if b"\x42\x82\x84webm" not in data[:64]:
            raise LifecycleError(N_("The video is damaged or not really a video."))
        return
    boxes = iso_boxes(data)
    if not boxes or boxes[0] != b"ftyp" or not ({b"moov", b"moof"} & set(boxes)):
        raise LifecycleError(N_("The video is damaged or not really a video."))


def check_pdf(data: bytes) -> None:
    # pypdf logs every repair it makes to a broken file; those are not the portal's errors.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        pages = len(reader.pages)
    except Exception:  # noqa: BLE001 - pypdf raises many kinds of error on a hostile file
        pages = 0
    if pages < 1:
        raise LifecycleError(N_("The PDF is damaged or not really a PDF."))


def safe_filename(name: str | None, fallback: str = "file") -> str:
    """An uploaded file's name fit for headers and pages: no path, control, bidi or zero-width characters."""
    text = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    text = text.strip().strip(".") or fallback
    return text[-MAX_FILENAME:]

"""Checking uploaded evidence by its content, not its name: only real images, videos and PDFs get in."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from portal.domain.enums import EvidenceKind
from portal.domain.lifecycle import N_, LifecycleError

MB = 1024 * 1024
LIMITS = {"image": 10 * MB, "video": 30 * MB, "application/pdf": 10 * MB}


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
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError):
            raise LifecycleError(N_("The image is damaged and cannot be shown.")) from None
    return content_type

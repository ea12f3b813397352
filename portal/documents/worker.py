"""The renderer process: turns HTML into PDF under an address-space limit, one job at a time.

The web process talks to it over stdin/stdout with length-prefixed frames: a JSON header, then a body.
Run as `python -m portal.documents.worker MEMORY_MB`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import resource
import struct
import sys
import threading
import time
from typing import Any, BinaryIO

_LENGTH = struct.Struct(">I")
# One font configuration for every job of this process: Pango's font map and the faces it has loaded
# stay warm instead of being set up again for each document (a tenth of a typical pack's time).
_FONTS: Any = None


def write_frame(stream: BinaryIO, data: bytes) -> None:
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream: BinaryIO) -> bytes | None:
    """One frame, or None when the other side has closed the pipe."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        return None
    return body


def render(job: dict[str, Any]) -> bytes:
    from weasyprint import HTML, Attachment
    from weasyprint.text.fonts import FontConfiguration

    from portal.documents.fetcher import StoreOnlyFetcher

    global _FONTS
    if _FONTS is None:
        _FONTS = FontConfiguration()
    fetcher = StoreOnlyFetcher(job["store"], job["static"], job.get("allowed", ()))
    attachments = [
        Attachment(
            string=a["content"].encode("utf-8"),
            name=a["name"],
            description=a.get("description"),
            relationship=a.get("relationship", "Data"),
            url_fetcher=fetcher,
        )
        for a in job.get("attachments", ())
    ]
    document = HTML(string=job["html"], url_fetcher=fetcher, base_url=None)
    return document.write_pdf(
        attachments=attachments,
        pdf_variant=job.get("variant"),
        # WeasyPrint reads each XMP part like a resource; a file object keeps the fetcher out of it.
        xmp_metadata=[io.BytesIO(part.encode("utf-8")) for part in job.get("xmp", ())] or None,
        dpi=job.get("dpi"),
        jpeg_quality=80,
        optimize_images=bool(job.get("dpi")),
        font_config=_FONTS,
    )


def die_with_parent(parent: int, every: float = 0.5) -> None:
    """Exit as soon as the process that started us is gone, even mid-render (it was SIGKILLed, say).

    Idle renderers already stop when their stdin closes; this catches one busy with a huge document.
    A watching thread rather than prctl's parent-death signal: that signal follows the *thread* that
    started us, and web and job workers start renderers from threads that end long before the process.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    memory_mb = int(argv[1]) if len(argv) > 1 else 0
    if len(argv) > 2:
        die_with_parent(int(argv[2]))
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out = sys.stdout.buffer
    source = sys.stdin.buffer
    # Anything printed by a library must not corrupt the frames on stdout.
    sys.stdout = sys.stderr
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    import weasyprint  # noqa: F401  (loaded once, before the first job, so jobs start warm)

    write_frame(out, json.dumps({"ready": True}).encode())
    while (frame := read_frame(source)) is not None:
        try:
            pdf = render(json.loads(frame))
        except MemoryError:
            write_frame(out, json.dumps({"ok": False, "kind": "memory"}).encode())
            write_frame(out, b"")
            return 3  # the heap may be in a poor state: let the parent start a fresh process
        except Exception as error:  # noqa: BLE001  (reported to the parent, which raises it there)
            write_frame(
                out,
                json.dumps(
                    {"ok": False, "kind": "error", "message": f"{type(error).__name__}: {error}"[:500]}
                ).encode(),
            )
            write_frame(out, b"")
            continue
        write_frame(out, json.dumps({"ok": True}).encode())
        write_frame(out, pdf)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

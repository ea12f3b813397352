"""The renderer process: turns HTML into PDF under an address-space limit, one job at a time.

The web process talks to it over stdin/stdout with length-prefixed frames: a JSON header, then a body.
Run as `python -m portal.documents.worker MEMORY_MB`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import resource
import signal
import struct
import sys
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
        dpi=job.get("dpi"),
        jpeg_quality=80,
        optimize_images=bool(job.get("dpi")),
        font_config=_FONTS,
    )


# prctl(2) option: the signal this process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Be killed when the process that started us dies, even by SIGKILL mid-render (Linux).

    Otherwise a renderer busy with a huge document outlives a killed worker until the render ends;
    idle ones already stop when their stdin closes.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return  # not Linux: the closed stdin still ends an idle renderer
    if os.getppid() != parent:
        os._exit(1)  # the parent died before prctl took effect


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

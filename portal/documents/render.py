"""Rendering HTML to PDF in separate, warm worker processes bounded in time and memory.

A huge case must not take the portal down: each worker has an address-space limit, the caller waits at
most a set time, and a worker that overruns is killed and replaced. Workers are kept warm between jobs
because importing WeasyPrint alone takes longer than rendering a one-page document.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask

from portal.documents.worker import _LENGTH

# A worker is replaced after this many jobs, so slow leaks in the rendering libraries never add up.
JOBS_PER_WORKER = 200
STARTUP_SECONDS = 60.0


class RenderError(Exception):
    """The document could not be produced; the message is meant for the person who asked for it."""


class RenderLimitError(RenderError):
    """Rendering went over its time or memory limit."""


@dataclass(frozen=True)
class Limits:
    seconds: float = 60.0
    memory_mb: int = 1536
    workers: int = 2  # renderer processes at once


# Tagged PDFs that screen readers can read. Return instructions are PDF/UA-1 (WeasyPrint's variant tags
# the structure and writes the identification). Evidence packs stay archival PDF/A-3, which allows their
# embedded manifest and audit proofs, at level "a" (tagged); this XMP entry declares PDF/UA-1 beside it.
PDF_UA_1_XMP = (
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/" pdfuaid:part="1"/>'
    "</rdf:RDF>"
)
INSTRUCTIONS_PDF: dict[str, Any] = {"variant": "pdf/ua-1"}
PACK_PDF: dict[str, Any] = {"variant": "pdf/a-3a", "xmp": [PDF_UA_1_XMP]}


@dataclass
class RenderJob:
    html: str
    store_root: str
    static_root: str
    allowed: list[str] = field(default_factory=list)
    attachments: list[dict[str, str]] = field(default_factory=list)
    variant: str | None = None
    dpi: int | None = None
    xmp: list[str] = field(default_factory=list)

    def payload(self) -> bytes:
        return json.dumps(
            {
                "html": self.html,
                "store": self.store_root,
                "static": self.static_root,
                "allowed": self.allowed,
                "attachments": self.attachments,
                "variant": self.variant,
                "dpi": self.dpi,
                "xmp": self.xmp,
            }
        ).encode("utf-8")


class _Overrun(Exception):
    pass


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.jobs = 0
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portal.documents.worker", str(memory_mb), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self._buffer = b""
        header = self._frame(time.monotonic() + STARTUP_SECONDS)
        if json.loads(header) != {"ready": True}:
            self.kill()
            raise RenderError("The PDF renderer did not start.")

    def _read(self, size: int, deadline: float) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while len(self._buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Overrun("time")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise _Overrun("time")
            chunk = os.read(fd, max(65536, size - len(self._buffer)))
            if not chunk:
                raise _Overrun("died")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _frame(self, deadline: float) -> bytes:
        (size,) = _LENGTH.unpack(self._read(_LENGTH.size, deadline))
        return self._read(size, deadline)

    def run(self, payload: bytes, seconds: float) -> bytes:
        assert self.proc.stdin is not None
        self.jobs += 1
        try:
            self.proc.stdin.write(_LENGTH.pack(len(payload)) + payload)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _Overrun("died") from None
        deadline = time.monotonic() + seconds
        header = json.loads(self._frame(deadline))
        body = self._frame(deadline)
        if header.get("ok"):
            return body
        if header.get("kind") == "memory":
            raise _Overrun("memory")
        raise RenderError(f"The PDF could not be rendered: {header.get('message', 'unknown error')}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


class RenderPool:
    """At most `size` workers with the same memory limit; callers beyond that wait their turn."""

    def __init__(self, memory_mb: int, size: int = 2) -> None:
        self.memory_mb = memory_mb
        self.size = size
        self._idle: list[_Worker] = []
        self._count = 0
        self._cond = threading.Condition()

    def _acquire(self, wait: float) -> _Worker:
        deadline = time.monotonic() + wait
        with self._cond:
            while not self._idle and self._count >= self.size:
                if (
                    not self._cond.wait(max(0.0, deadline - time.monotonic()))
                    and time.monotonic() >= deadline
                ):
                    raise RenderLimitError(
                        "The PDF renderer is busy with other documents; try again in a minute."
                    )
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return _Worker(self.memory_mb)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if not healthy or not worker.alive() or worker.jobs >= JOBS_PER_WORKER:
            worker.kill()
            with self._cond:
                self._count -= 1
                self._cond.notify()
            return
        with self._cond:
            self._idle.append(worker)
            self._cond.notify()

    def render(self, job: RenderJob, limits: Limits) -> bytes:
        worker = self._acquire(limits.seconds)
        healthy = False
        try:
            pdf = worker.run(job.payload(), limits.seconds)
            healthy = True
            return pdf
        except _Overrun as overrun:
            if str(overrun) == "time":
                raise RenderLimitError(
                    f"The document took longer than {limits.seconds:g} seconds to render and was stopped. "
                    "It is probably too large; ask an administrator to raise PDF_RENDER_SECONDS."
                ) from None
            raise RenderLimitError(
                f"The document needed more than {limits.memory_mb} MB of memory to render and was stopped. "
                "It is probably too large; ask an administrator to raise PDF_RENDER_MEMORY_MB."
            ) from None
        except RenderError:
            healthy = True
            raise
        finally:
            self._release(worker, healthy)

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.kill()


_POOLS: dict[tuple[int, int], RenderPool] = {}
_POOLS_LOCK = threading.Lock()


def pool_for(memory_mb: int, size: int = 2) -> RenderPool:
    """This process's pool of `size` renderers with `memory_mb` each (made on first use)."""
    with _POOLS_LOCK:
        if (memory_mb, size) not in _POOLS:
            _POOLS[memory_mb, size] = RenderPool(memory_mb, size)
        return _POOLS[memory_mb, size]


@atexit.register
def _close_pools() -> None:
    for pool in list(_POOLS.values()):
        pool.close()


def limits_for(app: Flask) -> Limits:
    return Limits(
        seconds=float(app.config.get("PDF_RENDER_SECONDS", 60)),
        memory_mb=int(app.config.get("PDF_RENDER_MEMORY_MB", 1536)),
        workers=int(app.config.get("PDF_RENDER_WORKERS", 2)),
    )


def render_pdf(app: Flask, html: str, **job: Any) -> bytes:
    """Render `html` for `app`: exhibits come from its attachment store, styles from its static folder."""
    store = app.extensions["attachments"]
    for digest in job.get("allowed", ()):
        store.path(digest)  # a remote store's exhibits are fetched here: the renderer itself fetches nothing
    store_root = str(store.local_root.resolve())
    static_root = str(Path(app.static_folder or "static").resolve())
    limits = limits_for(app)
    return pool_for(limits.memory_mb, limits.workers).render(
        RenderJob(html, store_root, static_root, **job), limits
    )

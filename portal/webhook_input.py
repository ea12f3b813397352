"""Reading webhook bodies with a hard size limit, whatever the transfer encoding."""

from __future__ import annotations

from flask import request


class BodyTooLarge(Exception):
    """The body is over the limit; nothing past limit + 1 bytes was read."""


def read_body(limit: int) -> bytes:
    """At most `limit` bytes of the request body, read before anything else looks at it.

    `Content-Length` is checked first; a chunked body has none, so the stream is read up to limit + 1
    bytes, never more, and a longer body is refused without reading the rest.
    """
    if (request.content_length or 0) > limit:
        raise BodyTooLarge
    stream = request.stream
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise BodyTooLarge
    return b"".join(chunks)

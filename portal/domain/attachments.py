"""The attachment store: files on disk addressed by the SHA-256 of their bytes."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session

from portal.domain.models import Attachment
from portal.domain.uploads import MAX_PIXELS

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
log = logging.getLogger("portal.storage")


class StorageError(Exception):
    """A file could not be written: `what` names the store, `reason` says why (full, read_only, other)."""

    def __init__(self, what: str, error: OSError) -> None:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            self.reason = "full"
        elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            self.reason = "read_only"
        else:
            self.reason = "other"
        self.what = what
        super().__init__(f"{what}: {error}")
        log.error("could not write to the %s store: %s", what, error)


@contextmanager
def writing(what: str) -> Iterator[None]:
    """Turn an OSError while writing `what` (attachments, exports) into a StorageError naming it."""
    try:
        yield
    except OSError as error:
        raise StorageError(what, error) from error


class AttachmentStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store bytes once; writing the same content again is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        with writing("attachments"):
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the target and rename, so a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return digest

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def thumbnail(self, sha256: str, size: int = 192) -> Path | None:
        """A small JPEG of a stored image, made once and kept beside the store; None if it is no image."""
        target = self.root / "thumbs" / f"{size}" / sha256[:2] / f"{sha256}.jpg"
        if target.exists():
            return target
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(self.path(sha256)) as image:
                if image.width * image.height > MAX_PIXELS:
                    return None  # stored before uploads were capped; not worth a worker's memory
                image.thumbnail((size, size))
                picture = image.convert("RGB")
        except (FileNotFoundError, UnidentifiedImageError, OSError, Image.DecompressionBombError):
            return None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            with os.fdopen(fd, "wb") as handle:
                picture.save(handle, "JPEG", quality=80)
            os.replace(tmp, target)
        except OSError as error:
            log.error("could not write a thumbnail: %s", error)
            return None  # the page shows the file's name instead of a picture
        return target

    def verify(self, sha256: str) -> bool:
        """Whether the stored file still hashes to its name."""
        try:
            return hashlib.sha256(self.read(sha256)).hexdigest() == sha256
        except FileNotFoundError:
            return False


def store_attachment(session: Session, store: AttachmentStore, data: bytes, content_type: str) -> Attachment:
    digest = store.put(data)
    # The same bytes may have been added earlier in this unflushed session.
    pending = next((obj for obj in session.new if isinstance(obj, Attachment) and obj.sha256 == digest), None)
    attachment = pending or session.get(Attachment, digest)
    if attachment is None:
        attachment = Attachment(sha256=digest, size=len(data), content_type=content_type)
        session.add(attachment)
    return attachment

"""The attachment store: files addressed by the SHA-256 of their bytes, in the configured object store."""

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
from portal.domain.storage import DirectoryStore, LocalCache, ObjectStore
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
    """Evidence files, product images and uploaded CSVs in an object store (see portal.domain.storage).

    Code that needs a file on disk (image checks, CSV parsing, the PDF renderer) asks `path()`: with a
    local directory it is the stored file itself; with a remote store, a local copy fetched on first use.
    """

    def __init__(self, objects: str | Path | ObjectStore, cache_dir: str | Path | None = None,
                 cache_max_bytes: int = 2 * 1024**3) -> None:
        if isinstance(objects, str | Path):
            objects = DirectoryStore(objects)
        self.objects: ObjectStore = objects
        local = objects.local_path("")
        self.local_root = local if local is not None else Path(cache_dir or tempfile.mkdtemp(prefix="store-"))
        self.cache = LocalCache(objects, self.local_root, cache_max_bytes)

    @staticmethod
    def key(sha256: str) -> str:
        if not _SHA256.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def path(self, sha256: str) -> Path:
        """The file on this machine (fetched from a remote store if need be); it may not exist."""
        key = self.key(sha256)
        return self.cache.path(key) or self.local_root / key

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> str:
        """Store bytes once; writing the same content again is a no-op."""
        digest = hashlib.sha256(data).hexdigest()
        key = self.key(digest)
        # Ask the store itself: a local copy says nothing of whether the (shared) store has the file.
        if self.objects.exists(key):
            return digest
        with writing("attachments"):
            fd, tmp = tempfile.mkstemp(prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                self.objects.put_file(key, Path(tmp))
                self.cache.keep(key, Path(tmp))
            finally:
                Path(tmp).unlink(missing_ok=True)
        return digest

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def thumbnail(self, sha256: str, size: int = 192) -> Path | None:
        """A small JPEG of a stored image, made once and kept in the store; None if it is no image."""
        self.key(sha256)
        key = f"thumbs/{size}/{sha256[:2]}/{sha256}.jpg"
        found = self.cache.path(key)
        if found is not None:
            return found
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(self.path(sha256)) as image:
                if image.width * image.height > MAX_PIXELS:
                    return None  # stored before uploads were capped; not worth a worker's memory
                image.thumbnail((size, size))
                picture = image.convert("RGB")
        except (FileNotFoundError, UnidentifiedImageError, OSError, Image.DecompressionBombError):
            return None
        fd, tmp = tempfile.mkstemp(prefix=".thumb-", suffix=".jpg")
        try:
            with os.fdopen(fd, "wb") as handle:
                picture.save(handle, "JPEG", quality=80)
            self.objects.put_file(key, Path(tmp))
            self.cache.keep(key, Path(tmp))
        except OSError as error:
            log.error("could not write a thumbnail: %s", error)
            return None  # the page shows the file's name instead of a picture
        finally:
            Path(tmp).unlink(missing_ok=True)
        return self.cache.path(key)

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

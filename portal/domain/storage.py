"""Where files live: a local directory (the default) or an S3-compatible object store, behind one interface.

`STORAGE_URL` chooses: empty for local directories (attachments in `ATTACHMENTS_DIR`, exports in the
instance folder), or `s3://bucket/prefix` for any S3-compatible store (AWS S3, MinIO, Ceph, R2 ...),
reached through boto3 with the usual variables: `AWS_ENDPOINT_URL` (or `STORAGE_ENDPOINT_URL`) for a
store that is not AWS, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`. Every web
host and worker of one portal then shares the same files.

Objects are written whole and never changed in place: attachments are named by the SHA-256 of their
bytes and exports by their job, so a local copy of an object (`LocalCache`) never goes stale.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote, urlparse


class ObjectStore(Protocol):
    """Objects addressed by a key such as `ab/cd/abcd…` or `exports/export-12.zip`."""

    def exists(self, key: str) -> bool: ...

    def put_file(self, key: str, source: Path) -> None:
        """Store the file's bytes under the key, whole (a reader never sees part of it)."""

    def download(self, key: str, target: Path) -> bool:
        """Write the object to `target` (whole, atomically); False when there is no such object."""

    def open(self, key: str) -> IO[bytes] | None:
        """A readable stream of the object, or None when there is no such object."""

    def local_path(self, key: str) -> Path | None:
        """Where the object already is on this machine's disk, if the store is a local directory."""

    def link(self, key: str, download_name: str, seconds: int) -> str | None:
        """A signed address from which a browser downloads the object itself for `seconds`, or None
        when the store cannot give one (the portal then streams the file)."""


def _atomic_copy(source: IO[bytes], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            shutil.copyfileobj(source, handle, 1024 * 1024)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class DirectoryStore:
    """A folder of this machine: fine for one host, or several sharing a network file system."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key {key!r} leaves the store")
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def put_file(self, key: str, source: Path) -> None:
        target = self._path(key)
        if source.resolve() == target:
            return
        with source.open("rb") as handle:
            _atomic_copy(handle, target)

    def download(self, key: str, target: Path) -> bool:
        path = self._path(key)
        if not path.is_file():
            return False
        if path != target.resolve():
            with path.open("rb") as handle:
                _atomic_copy(handle, target)
        return True

    def open(self, key: str) -> IO[bytes] | None:
        path = self._path(key)
        return path.open("rb") if path.is_file() else None

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def link(self, key: str, download_name: str, seconds: int) -> str | None:
        return None


class S3Store:
    """A bucket (and key prefix) of an S3-compatible object store."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None, **client_options: Any) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            # Retries with backoff for a store that is briefly busy; bounded waits so a request
            # never hangs a web worker.
            config = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5,
                            read_timeout=60, signature_version="s3v4")
            client = boto3.client("s3", config=config, **client_options)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _missing(self, error: Exception) -> bool:
        code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
        return code in {"404", "NoSuchKey", "NotFound"}

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if self._missing(error):
                return False
            raise
        return True

    def put_file(self, key: str, source: Path) -> None:
        # Large files go up in parts; the object appears only when every part is there.
        self.client.upload_file(str(source), self.bucket, self._key(key))

    def download(self, key: str, target: Path) -> bool:
        stream = self.open(key)
        if stream is None:
            return False
        with stream:
            _atomic_copy(stream, target)
        return True

    def open(self, key: str) -> IO[bytes] | None:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if self._missing(error):
                return None
            raise
        return answer["Body"]  # type: ignore[no-any-return]

    def local_path(self, key: str) -> Path | None:
        return None

    def link(self, key: str, download_name: str, seconds: int) -> str | None:
        if seconds <= 0:
            return None
        # Signing is local (no request to the store); the browser gets the file as an attachment.
        disposition = f"attachment; filename*=UTF-8''{quote(download_name, safe='')}"
        return str(self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key),
                    "ResponseContentDisposition": disposition},
            ExpiresIn=seconds,
        ))


class LocalCache:
    """Copies of a store's objects on this machine, fetched once on first use.

    For a directory store it is the directory itself. Safe because objects never change once written.
    The copies are bounded: after fetching a new one, at most every `prune_every` seconds, the least
    recently used copies go until `max_bytes` remain (each host prunes its own).
    """

    def __init__(self, store: ObjectStore, root: Path, max_bytes: int = 2 * 1024**3,
                 prune_every: float = 600) -> None:
        self.store = store
        self.root = root
        self.max_bytes = max_bytes
        self.prune_every = prune_every
        self._pruned_at = 0.0

    def path(self, key: str) -> Path | None:
        """A file with the object's bytes, or None when the store has no such object."""
        direct = self.store.local_path(key)
        if direct is not None:
            return direct if direct.is_file() else None
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise ValueError(f"key {key!r} leaves the cache")
        if target.is_file():
            try:
                os.utime(target)  # recently used: pruned last
            except FileNotFoundError:  # pruned meanwhile: fetch it again
                return target if self.store.download(key, target) else None
            return target
        if self.store.download(key, target):
            if time.monotonic() - self._pruned_at >= self.prune_every:
                self._pruned_at = time.monotonic()
                self.prune(self.max_bytes)
            return target
        return None

    def prune(self, max_bytes: int, keep_seconds: float = 300) -> int:
        """Delete the least recently used copies until the cache holds at most `max_bytes`; the count.

        Copies used in the last `keep_seconds` stay whatever the size, so a file being served or
        rendered is never taken away; a deleted copy is fetched again from the store when next needed.
        """
        if not self.root.is_dir():
            return 0
        copies: list[tuple[float, int, Path]] = []
        total = 0
        for path in self.root.rglob("*"):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            if path.is_file() and not path.name.startswith(".incoming-"):
                copies.append((info.st_mtime, info.st_size, path))
                total += info.st_size
        removed = 0
        recent = time.time() - keep_seconds
        for used, size, path in sorted(copies):
            if total <= max_bytes or used > recent:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed

    def keep(self, key: str, source: Path) -> None:
        """Remember a file just stored, so this machine need not fetch it back."""
        if self.store.local_path(key) is not None:
            return
        target = (self.root / key).resolve()
        if not target.is_file():
            with source.open("rb") as handle:
                _atomic_copy(handle, target)
            if time.monotonic() - self._pruned_at >= self.prune_every:
                self._pruned_at = time.monotonic()
                self.prune(self.max_bytes)


def from_config(config: Mapping[str, Any], instance_path: Path) -> tuple[ObjectStore, ObjectStore, Path]:
    """The attachment store, the export store, and the folder for local copies of remote objects."""
    url = str(config.get("STORAGE_URL") or "").strip()
    cache = Path(config.get("STORAGE_CACHE_DIR") or instance_path / "storage-cache")
    if not url:
        return DirectoryStore(config["ATTACHMENTS_DIR"]), DirectoryStore(instance_path / "exports"), cache
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"STORAGE_URL must be empty or s3://bucket/prefix, not {url!r}")
    options: dict[str, Any] = {}
    endpoint = config.get("STORAGE_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["endpoint_url"] = endpoint
    prefix = parsed.path.strip("/")
    base = f"{prefix}/" if prefix else ""
    client = S3Store(parsed.netloc, "", **options).client
    return (
        S3Store(parsed.netloc, base + "attachments", client=client),
        S3Store(parsed.netloc, base + "exports", client=client),
        cache,
    )

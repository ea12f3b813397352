"""Files in an S3-compatible object store: two portals sharing one bucket serve each other's uploads,
thumbnails, evidence packs (exhibits read from the store) and exports."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS, csrf_token, make_test_app, sign_in
from support.factories import make_case, shop_with_market
from support.s3 import make_bucket

from portal import create_app
from portal.domain.enums import Role
from portal.domain.models import EvidenceItem, User
from portal.domain.storage import DirectoryStore, LocalCache, S3Store

_buckets = itertools.count(1)


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"portal-test-{next(_buckets)}"
    make_bucket(s3_endpoint, name)
    return name


def _objects(endpoint: str, bucket: str) -> list[str]:
    listing = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_s3_store_puts_reads_and_says_what_is_missing(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    store = S3Store(bucket, "shop/attachments", endpoint_url=s3_endpoint)
    source = tmp_path / "a.bin"
    source.write_bytes(b"x" * 100_000)
    assert not store.exists("ab/cd/file")
    store.put_file("ab/cd/file", source)
    assert store.exists("ab/cd/file")
    assert _objects(s3_endpoint, bucket) == ["shop/attachments/ab/cd/file"]
    stream = store.open("ab/cd/file")
    assert stream is not None and stream.read() == b"x" * 100_000
    assert store.open("ab/cd/nothing") is None
    assert not store.download("ab/cd/nothing", tmp_path / "nothing")
    cache = LocalCache(store, tmp_path / "cache")
    copy = cache.path("ab/cd/file")
    assert copy is not None and copy.read_bytes() == source.read_bytes()
    assert copy.is_relative_to(tmp_path / "cache")
    assert cache.path("ab/cd/nothing") is None


def test_a_directory_store_refuses_keys_that_leave_it(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    with pytest.raises(ValueError):
        store.exists("../outside")


def test_a_bad_storage_url_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "x",
                    "STORAGE_URL": "ftp://files.example/portal"})


@pytest.fixture
def two_portals(app: Flask, s3_endpoint: str, bucket: str, tmp_path: Path) -> Iterator[tuple[Flask, Flask]]:
    """Two portals on one database and one bucket, each with its own local folders (as on two hosts)."""
    shared = {"STORAGE_URL": f"s3://{bucket}/aftersales", "STORAGE_ENDPOINT_URL": s3_endpoint,
              "JOBS_RUN_INLINE": True}
    first, second = (
        make_test_app(app.config["DATABASE_URL"], tmp_path / name,
                      STORAGE_CACHE_DIR=str(tmp_path / f"{name}-cache"), **shared)
        for name in ("one", "two")
    )
    yield first, second
    for portal in (first, second):
        portal.extensions["database"].engine.dispose()


def _signed_in(portal: Flask, role: Role) -> FlaskClient:
    client = portal.test_client()
    assert sign_in(client, ROLE_EMAILS[role]).status_code == 302
    return client


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), "teal").save(buffer, "PNG")
    return buffer.getvalue()


def test_an_upload_on_one_portal_is_served_by_the_other(
    two_portals: tuple[Flask, Flask], db: Session, users: dict[Role, User], s3_endpoint: str, bucket: str,
    tmp_path: Path,
) -> None:
    first, second = two_portals
    _shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-S3001")
    db.commit()
    agent = _signed_in(first, Role.CS_AGENT)
    photo = _png()
    answer = agent.post(
        "/cases/AS-S3001/evidence",
        data={"csrf_token": csrf_token(agent, "/cases/AS-S3001"), "version": str(case.version),
              "kind": "photo", "caption": "dent", "file": (io.BytesIO(photo), "dent.png")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    digest = hashlib.sha256(photo).hexdigest()
    assert f"aftersales/attachments/{digest[:2]}/{digest[2:4]}/{digest}" in _objects(s3_endpoint, bucket)
    assert not (tmp_path / "two-cache").exists()  # the second host has never seen the file

    other = _signed_in(second, Role.CS_AGENT)
    served = other.get(f"/evidence/{digest}")
    assert served.status_code == 200 and served.data == photo
    thumbnail = other.get(f"/evidence/{digest}/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"
    assert f"aftersales/attachments/thumbs/192/{digest[:2]}/{digest}.jpg" in _objects(s3_endpoint, bucket)
    assert other.get(f"/evidence/{'0' * 64}").status_code == 404

    # The evidence pack rendered on the second host embeds the exhibit it read from the store.
    (tmp_path / "two-cache").joinpath("attachments", digest[:2], digest[2:4], digest).unlink()
    auditor = _signed_in(second, Role.AUDITOR)
    url = "/cases/AS-S3001/evidence-pack.pdf"
    pack = auditor.post(url, data={"csrf_token": csrf_token(auditor, url)})
    assert pack.status_code == 200
    reader = PdfReader(io.BytesIO(pack.data))
    pictures = [image for page in reader.pages for image in page.images]
    assert any(image.image.size == (640, 480) for image in pictures)
    assert db.scalar(select(EvidenceItem.sha256)) == digest


def test_an_export_made_by_one_portal_downloads_from_the_other(
    two_portals: tuple[Flask, Flask], db: Session, users: dict[Role, User], s3_endpoint: str, bucket: str
) -> None:
    first, second = two_portals
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-S3EXP")
    db.commit()
    auditor = _signed_in(first, Role.AUDITOR)
    started = auditor.post("/audit/exports", data={"csrf_token": csrf_token(auditor, "/audit/exports"),
                                                   "date_from": "2000-01-01", "date_to": "2100-01-01"})
    assert started.status_code == 303
    export_id = started.location.rsplit("/", 1)[1]
    stored = [key for key in _objects(s3_endpoint, bucket) if key.startswith("aftersales/exports/")]
    assert len(stored) == 1 and stored[0].startswith(f"aftersales/exports/evidence-export-{export_id}-")
    local = Path(first.instance_path) / "exports" / Path(stored[0]).name
    assert not local.exists()  # only in the store
    # The other portal sends the browser to the store with a signed link; the store serves the zip.
    auditor_two = _signed_in(second, Role.AUDITOR)
    download = auditor_two.get(f"/audit/exports/{export_id}/download")
    assert download.status_code == 302 and download.location.startswith(s3_endpoint)
    assert "X-Amz-Signature=" in download.location and "X-Amz-Expires=300" in download.location
    with urllib.request.urlopen(download.location, timeout=30) as answer:
        assert "attachment" in answer.headers["Content-Disposition"]
        archive = answer.read()
    assert "packs/evidence-pack-AS-S3EXP.pdf" in zipfile.ZipFile(io.BytesIO(archive)).namelist()
    # With links off (a store browsers cannot reach) the portal streams the file itself.
    second.config["STORAGE_LINK_SECONDS"] = 0
    streamed = auditor_two.get(f"/audit/exports/{export_id}/download")
    assert streamed.status_code == 200 and streamed.mimetype == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(streamed.data)).namelist() == zipfile.ZipFile(
        io.BytesIO(archive)).namelist()


def test_a_local_copy_does_not_stop_a_file_reaching_a_new_store(
    s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    from portal.domain.attachments import AttachmentStore

    cache = tmp_path / "cache"
    AttachmentStore(S3Store(bucket, "old", endpoint_url=s3_endpoint), cache).put(b"receipt")
    digest = AttachmentStore(S3Store(bucket, "new", endpoint_url=s3_endpoint), cache).put(b"receipt")
    assert f"new/{digest[:2]}/{digest[2:4]}/{digest}" in _objects(s3_endpoint, bucket)


def test_local_copies_of_remote_objects_are_pruned_least_recently_used_first(
    s3_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    store = S3Store(bucket, "files", endpoint_url=s3_endpoint)
    for name in ("a", "b", "c", "d"):
        source = tmp_path / name
        source.write_bytes(name.encode() * 1000)
        store.put_file(name, source)
    cache = LocalCache(store, tmp_path / "cache", max_bytes=2500, prune_every=3600)
    copies = {name: cache.path(name) for name in ("a", "b", "c", "d")}
    now = time.time()
    for age, name in enumerate(("d", "c", "b", "a")):  # `a` used longest ago
        path = copies[name]
        assert path is not None
        os.utime(path, (now - 3600 * (age + 1), now - 3600 * (age + 1)))
    cache.path("b")  # using a copy makes it recent again
    assert cache.prune(2500) == 2
    left = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert left == ["b", "d"]
    # A pruned copy comes back from the store when next needed.
    again = cache.path("a")
    assert again is not None and again.read_bytes() == b"a" * 1000
    # Copies used within the last minutes stay even over the limit (a file being served).
    assert cache.prune(0) == 1 and sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["a", "b"]


def test_fetching_new_copies_keeps_the_cache_bounded(s3_endpoint: str, bucket: str, tmp_path: Path) -> None:
    store = S3Store(bucket, "files", endpoint_url=s3_endpoint)
    cache = LocalCache(store, tmp_path / "cache", max_bytes=3000, prune_every=0)
    for index in range(8):
        source = tmp_path / f"f{index}"
        source.write_bytes(b"x" * 1000)
        store.put_file(f"f{index}", source)
        path = cache.path(f"f{index}")
        assert path is not None
        old = time.time() - 3600 * (10 - index)
        os.utime(path, (old, old))
    total = sum(p.stat().st_size for p in (tmp_path / "cache").iterdir())
    assert total <= 3000 + 1000  # the newest copy is fetched before the others make room

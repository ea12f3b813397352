"""The attachment store keeps each file once, under the SHA-256 of its bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from portal.domain.attachments import AttachmentStore


def test_put_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path)
    digest = store.put(b"photo bytes")
    assert digest == hashlib.sha256(b"photo bytes").hexdigest()
    assert store.put(b"photo bytes") == digest
    assert store.read(digest) == b"photo bytes"
    assert store.path(digest) == tmp_path / digest[:2] / digest[2:4] / digest
    assert list(tmp_path.rglob(".incoming-*")) == []


def test_verify_detects_a_changed_file(tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path)
    digest = store.put(b"original")
    assert store.verify(digest)
    store.path(digest).write_bytes(b"changed")
    assert not store.verify(digest)
    assert not store.verify("0" * 64)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "abc", "G" * 64, "0" * 63])
def test_paths_only_for_real_digests(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        AttachmentStore(tmp_path).path(bad)


def test_same_bytes_twice_in_one_session_make_one_row(app, db) -> None:
    from sqlalchemy import func, select

    from portal.domain.attachments import store_attachment
    from portal.domain.models import Attachment

    store = app.extensions["attachments"]
    first = store_attachment(db, store, b"same", "image/png")
    second = store_attachment(db, store, b"same", "image/png")
    db.commit()
    assert first is second and db.scalar(select(func.count()).select_from(Attachment)) == 1

"""The audit log: writers only queue entries, a sequencer places them in a signed Merkle tree, and any
change to the log, however careful, no longer matches the signed checkpoints."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS, csrf_token
from support.audit import problems, sequence_all, unguarded, verify

from portal.audit.keys import public_key, signer
from portal.domain import audit, audit_tree, merkle
from portal.domain.audit_signing import Signer
from portal.domain.enums import Role
from portal.domain.models import AuditCheckpoint, AuditEntry, AuditLeaf, AuditNode, AuditPending, User


def _append(db: Session, n: int, start: int = 0) -> list[AuditEntry]:
    ids = [
        audit.record(db, "case.updated", "case", i, {"amount": Decimal("12.50"), "note": "退款 ok"})
        for i in range(start, start + n)
    ]
    db.commit()
    return [db.get(AuditEntry, entry_id) for entry_id in ids]


def _positions(db: Session) -> dict[int, int]:
    return dict(db.execute(select(AuditLeaf.entry_id, AuditLeaf.position)).all())


def test_writers_queue_and_the_sequencer_places_and_signs(app: Flask, db: Session) -> None:
    entries = _append(db, 5)
    assert db.scalar(select(func.count()).select_from(AuditPending)) == 5
    assert entries[0].details == {"amount": "12.50", "note": "退款 ok"}
    report = verify(app)
    assert report.ok and report.unsequenced == 5 and report.entries == 0  # waiting is not failing

    first = sequence_all(app)
    assert first.sequenced == 5 and first.checkpoint is not None and first.checkpoint.tree_size == 5
    assert first.checkpoint.verify(public_key(app.config)) is None
    db.expire_all()
    assert _positions(db) == {e.id: i for i, e in enumerate(entries)}  # in the order they were written
    assert db.scalar(select(func.count()).select_from(AuditPending)) == 0
    leaves = [merkle.leaf_hash(audit.entry_leaf(e)) for e in entries]
    assert first.checkpoint.root_hash == merkle.root_of(leaves)

    _append(db, 3, start=5)
    second = sequence_all(app)
    assert second.sequenced == 3 and second.checkpoint.tree_size == 8
    row = db.get(AuditCheckpoint, 8)
    assert row.previous_size == 5
    assert merkle.verify_consistency(
        5,
        8,
        [bytes.fromhex(h) for h in row.consistency],
        first.checkpoint.root_hash,
        second.checkpoint.root_hash,
    )
    assert sequence_all(app).sequenced == 0  # nothing new: no new checkpoint either
    assert db.scalar(select(func.count()).select_from(AuditCheckpoint)) == 2
    report = verify(app)
    assert report.ok, problems(report)
    assert (report.entries, report.tree_size, report.checkpoints, report.unsequenced) == (8, 8, 2, 0)


def test_batches_and_several_sequencers_build_one_tree(app: Flask, db: Session) -> None:
    _append(db, 25)
    factory = app.extensions["database"].sessionmaker
    results: list[audit_tree.SequenceResult] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(audit_tree.sequence(factory, signer(app.config), batch=4))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sequenced for r in results) == 25
    assert sorted(_positions(db).values()) == list(range(25))
    report = verify(app)
    assert report.ok and report.entries == 25, problems(report)


def test_concurrent_writers_and_sequencers_never_fail(app: Flask, db: Session) -> None:
    """Eight writers and two sequencers at once: no writer ever waits for or fails because of another."""
    factory = app.extensions["database"].sessionmaker
    key = signer(app.config)
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def writer(number: int) -> None:
        try:
            for i in range(30):
                with factory() as session:
                    audit.record(session, "case.updated", "case", f"{number}-{i}", {"i": i})
                    if i % 3 == 0:  # some transactions write two entries
                        audit.record(session, "case.noted", "case", f"{number}-{i}", {})
                    session.commit()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    def sequencer() -> None:
        try:
            while writing.is_set():
                audit_tree.sequence(factory, key, batch=7)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    writers = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    sequencers = [threading.Thread(target=sequencer) for _ in range(2)]
    for thread in writers + sequencers:
        thread.start()
    for thread in writers:
        thread.join()
    writing.clear()
    for thread in sequencers:
        thread.join()
    assert errors == []
    sequence_all(app)
    total = 8 * 40
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == total
    assert sorted(_positions(db).values()) == list(range(total))
    report = verify(app)
    assert report.ok and report.entries == total and report.checkpoints >= 1, problems(report)


def test_concurrent_sign_ins_all_succeed(app: Flask, users: dict[Role, User], db: Session) -> None:
    """On SQLite the hash chain lost 14 of 80 concurrent sign-ins (UNIQUE constraint on prev_hash)."""
    clients = [app.test_client() for _ in range(40)]
    tokens = [csrf_token(client) for client in clients]
    statuses: list[int] = []
    barrier = threading.Barrier(len(clients))

    def sign_in_now(client: FlaskClient, token: str, n: int) -> None:
        barrier.wait()
        response = client.post(
            "/login",
            data={
                "email": ROLE_EMAILS[list(Role)[n % 4]],
                "password": "correct-horse-42",
                "csrf_token": token,
            },
        )
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=sign_in_now, args=(c, t, n))
        for n, (c, t) in enumerate(zip(clients, tokens, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * 40
    logins = db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "user.login"))
    assert logins == 40


def test_entries_waiting_for_the_sequencer_show_as_waiting(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    _append(db, 2)
    auditor = login(Role.AUDITOR)
    html = auditor.get("/audit").get_data(as_text=True)
    assert "waiting" in html
    sequence_all(app)
    html = auditor.get("/audit").get_data(as_text=True)
    assert "#0" in html and "#2" in html  # the auditor's own sign-in was sequenced too


def test_auditor_verifies_the_log_in_the_portal(
    app: Flask, login: Callable[[Role], FlaskClient], db: Session
) -> None:
    _append(db, 2)
    auditor = login(Role.AUDITOR)
    sequence_all(app)
    html = auditor.post("/audit/verify", data={"csrf_token": csrf_token(auditor, "/audit")}).get_data(
        as_text=True
    )
    # Two appended here, plus the auditor's own sign-in.
    assert "The log is intact: 3 entries match the latest signed checkpoint." in html
    entry = _append(db, 1)[0]
    sequence_all(app)
    with unguarded(db) as conn:
        conn.execute(
            text("UPDATE audit_log SET actor_label = 'someone else' WHERE id = :id"), {"id": entry.id}
        )
    html = auditor.post("/audit/verify", data={"csrf_token": csrf_token(auditor, "/audit")}).get_data(
        as_text=True
    )
    assert "The log does not match its signed checkpoints." in html
    assert f"Entry #{entry.id} at position 3 was changed after it was sequenced." in html


def test_audit_page_lists_and_filters_entries(login: Callable[[Role], FlaskClient], db: Session) -> None:
    audit.record(db, "policy.published", "policy", 7, {"comment": "<script>alert(1)</script>"})
    audit.record(db, "case.updated", "case", 8, {})
    db.commit()
    auditor = login(Role.AUDITOR)
    html = auditor.get("/audit?action=policy.").get_data(as_text=True)
    assert "policy.published" in html and "case.updated" not in html
    assert "<script>alert(1)</script>" not in html  # escaped
    assert "/audit/public-key.pem" in html
    fragment = auditor.get("/audit?entity=case:8", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="audit-rows">') and "case.updated" in body
    assert "HX-Request" in fragment.headers["Vary"]


# ---------------------------------------------------------------------------------------------------------
# Tampering, every way we could think of; each is found.


@pytest.fixture
def sealed(app: Flask, db: Session) -> list[AuditEntry]:
    """Eight entries, sequenced and signed in two checkpoints (5 and 8)."""
    entries = _append(db, 5)
    sequence_all(app)
    entries += _append(db, 3, start=5)
    sequence_all(app)
    assert verify(app).ok
    return entries


def test_a_changed_entry_is_found(app: Flask, db: Session, sealed: list[AuditEntry]) -> None:
    with unguarded(db) as conn:
        conn.execute(text("UPDATE audit_log SET entity_id = '99' WHERE id = :id"), {"id": sealed[2].id})
    report = verify(app)
    assert not report.ok and report.first_bad_position == 2
    assert f"Entry #{sealed[2].id} at position 2 was changed after it was sequenced." in problems(report)
    assert "no longer give the root signed in the checkpoint" in problems(report)


def test_a_removed_entry_is_found(app: Flask, db: Session, sealed: list[AuditEntry]) -> None:
    with unguarded(db) as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": sealed[1].id})
    report = verify(app)
    assert not report.ok and report.first_bad_position == 1
    assert f"Entry #{sealed[1].id} at position 1 was removed." in problems(report)


def test_a_removed_entry_and_its_leaf_are_found(app: Flask, db: Session, sealed: list[AuditEntry]) -> None:
    with unguarded(db) as conn:
        conn.execute(text("DELETE FROM audit_tree_leaves WHERE position = 1"))
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": sealed[1].id})
    report = verify(app)
    assert not report.ok and report.first_bad_position == 1
    assert "Position 1 is missing from the tree" in problems(report)


def test_two_swapped_entries_are_found(app: Flask, db: Session, sealed: list[AuditEntry]) -> None:
    a, b = sealed[3], sealed[6]
    with unguarded(db) as conn:
        for one, other in ((a, b), (b, a)):
            conn.execute(
                text("UPDATE audit_log SET entity_id = :e WHERE id = :id"),
                {"e": other.entity_id, "id": one.id},
            )
    report = verify(app)
    assert not report.ok and report.first_bad_position == 3
    assert "at position 3 was changed" in problems(report) and "at position 6 was changed" in problems(report)


def test_swapped_positions_are_found(app: Flask, db: Session, sealed: list[AuditEntry]) -> None:
    """The same two leaves exchanged in the tree, with their leaf hashes."""
    with unguarded(db) as conn:
        rows = dict(conn.execute(text("SELECT position, entry_id FROM audit_tree_leaves")).all())
        hashes = dict(conn.execute(text("SELECT position, leaf_hash FROM audit_tree_leaves")).all())
        conn.execute(text("DELETE FROM audit_tree_leaves WHERE position IN (2, 4)"))
        for position, source in ((2, 4), (4, 2)):
            conn.execute(
                text("INSERT INTO audit_tree_leaves (position, entry_id, leaf_hash) VALUES (:p, :e, :h)"),
                {"p": position, "e": rows[source], "h": hashes[source]},
            )
    report = verify(app)
    assert not report.ok and report.first_bad_position is not None
    assert "no longer give the root signed in the checkpoint" in problems(report)


def test_a_cut_tail_is_found(app: Flask, db: Session, sealed: list[AuditEntry]) -> None:
    with unguarded(db) as conn:
        for entry in sealed[6:]:
            conn.execute(text("DELETE FROM audit_tree_leaves WHERE entry_id = :id"), {"id": entry.id})
            conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": entry.id})
    report = verify(app)
    assert not report.ok
    assert "The log ends after 6 entries but a checkpoint covers 8" in problems(report)


def test_a_cut_tail_with_its_checkpoints_is_found_by_a_checkpoint_kept_outside(
    app: Flask, db: Session, sealed: list[AuditEntry]
) -> None:
    """Cut back to an earlier checkpoint, removing the later one too: only an outsider's copy can tell."""
    kept = audit_tree.as_checkpoint(db.get(AuditCheckpoint, 8))
    with unguarded(db) as conn:
        conn.execute(text("DELETE FROM audit_checkpoints WHERE tree_size = 8"))
        conn.execute(text("DELETE FROM audit_tree_nodes"))
        conn.execute(text("DELETE FROM audit_tree_leaves WHERE position >= 5"))
        for entry in sealed[5:]:
            conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": entry.id})
        root = merkle.root_of(merkle.leaf_hash(audit.entry_leaf(e)) for e in sealed[:5])
        conn.execute(text("UPDATE audit_tree_state SET tree_size = 5, root_hash = :r"), {"r": root.hex()})
    assert verify(app).ok  # consistent with itself: the log alone cannot know what it lost
    report = verify(app, also=[kept])
    assert not report.ok and "The log ends after 5 entries but a checkpoint covers 8" in problems(report)


def _rebuild_tree(conn: Connection, db: Session, entries: list[AuditEntry]) -> bytes:
    """What an insider without the key can do: recompute every leaf, node and the tree head."""
    db.expire_all()
    tree = merkle.CompactRange()
    conn.execute(text("DELETE FROM audit_tree_nodes"))
    for position, entry in enumerate(entries):
        digest = merkle.leaf_hash(audit.entry_leaf(db.get(AuditEntry, entry.id)))
        conn.execute(
            text("UPDATE audit_tree_leaves SET leaf_hash = :h WHERE position = :p"),
            {"h": digest.hex(), "p": position},
        )
        for (level, idx), h in tree.append(digest):
            conn.execute(
                text("INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (:l, :i, :h)"),
                {"l": level, "i": idx, "h": h.hex()},
            )
    db.rollback()
    conn.execute(text("UPDATE audit_tree_state SET root_hash = :r"), {"r": tree.root().hex()})
    return tree.root()


def test_a_rewritten_entry_with_every_hash_recomputed_is_found(
    app: Flask, db: Session, sealed: list[AuditEntry]
) -> None:
    with unguarded(db) as conn:
        conn.execute(
            text("UPDATE audit_log SET details = :d WHERE id = :id"),
            {"d": '{"amount": "0.01", "note": "退款 ok"}', "id": sealed[2].id},
        )
        conn.commit()
        root = _rebuild_tree(conn, db, sealed)
        # Even the checkpoints' roots, without being able to sign them.
        conn.execute(
            text("UPDATE audit_checkpoints SET root_hash = :r WHERE tree_size = 8"), {"r": root.hex()}
        )
    report = verify(app)
    assert not report.ok
    text_ = problems(report)
    assert "Checkpoint of size 8: The checkpoint's signature does not hold" in text_
    assert "The first 5 entries no longer give the root signed in the checkpoint of that size" in text_


def test_a_forged_checkpoint_is_found(app: Flask, db: Session, sealed: list[AuditEntry]) -> None:
    """A new entry slipped in behind the sequencer, with a checkpoint signed by another key."""
    rogue = Signer(Ed25519PrivateKey.generate())
    _append(db, 1, start=100)
    audit_tree.sequence(app.extensions["database"].sessionmaker, rogue)
    report = verify(app)
    assert not report.ok
    assert "Checkpoint of size 9: The checkpoint was signed with another key" in problems(report)


def test_a_rewritten_log_re_signed_with_the_key_is_found_by_a_checkpoint_kept_outside(
    app: Flask, db: Session, sealed: list[AuditEntry]
) -> None:
    """Even someone holding the signing key cannot rewrite what a pack's checkpoint already covers."""
    kept = audit_tree.as_checkpoint(db.get(AuditCheckpoint, 8))
    with unguarded(db) as conn:
        conn.execute(text("UPDATE audit_log SET actor_label = 'nobody' WHERE id = :id"), {"id": sealed[0].id})
        for table in ("audit_checkpoints", "audit_tree_nodes", "audit_tree_leaves"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(
            text("UPDATE audit_tree_state SET tree_size = 0, root_hash = :r"), {"r": merkle.EMPTY_ROOT.hex()}
        )
        conn.execute(text("INSERT INTO audit_pending (entry_id) SELECT id FROM audit_log"))
    sequence_all(app)  # the whole log re-sequenced and re-signed with the portal's own key
    assert verify(app).ok
    report = verify(app, also=[kept])
    assert not report.ok
    assert "The first 8 entries no longer give the root of the checkpoint given" in problems(report)


def test_the_nodes_table_is_not_trusted(app: Flask, db: Session, sealed: list[AuditEntry]) -> None:
    """A changed stored subtree breaks proofs, never the verification, which recomputes from the rows."""
    with unguarded(db) as conn:
        conn.execute(text("DELETE FROM audit_tree_nodes WHERE level = 1 AND idx = 0"))
        conn.execute(
            text("INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (1, 0, :h)"), {"h": "00" * 32}
        )
    assert verify(app).ok
    assert db.scalar(select(func.count()).select_from(AuditNode)) > 0


# ---------------------------------------------------------------------------------------------------------
# The scheduler runs the sequencer, and its health page shows the lag.


def test_the_scheduler_runs_the_sequencer(app: Flask, db: Session) -> None:
    from portal.scheduler import PERIODIC, _load_tasks

    _load_tasks()
    task = next(item for item in PERIODIC if item.name == "audit sequencer")
    assert task.seconds is not None and task.seconds <= 5
    _append(db, 3)
    with app.app_context():
        assert task.task(app, app.extensions["database"].sessionmaker) == 3
    assert verify(app).entries == 3


def test_health_page_shows_the_sequencer_lag(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    from datetime import timedelta

    from portal.domain.types import utcnow

    old = AuditEntry(
        occurred_at=utcnow() - timedelta(minutes=3),
        actor_label="system",
        action="case.updated",
        entity_type="case",
        entity_id="1",
        details={},
    )
    db.add(old)
    db.commit()
    admin = login(Role.ADMIN)
    html = admin.get("/admin/scheduler").get_data(as_text=True)
    assert "Audit log sequencer" in html and "Lag (oldest entry waiting)" in html
    assert "3 min" in html or "3 minutes" in html, html[html.index("audit-sequencer") :][:1500]
    sequence_all(app)
    html = admin.get("/admin/scheduler").get_data(as_text=True)
    section = html[html.index('id="audit-sequencer"') :]
    assert "none" in section[:1200] and "2 entries" in section  # the admin's sign-in, and the old entry


def test_verification_in_several_processes_finds_the_same(
    app: Flask, db: Session, sealed: list[AuditEntry], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_tree, "SEGMENT", 3)  # eight entries: three segments
    with app.extensions["database"].session() as session:
        report = audit_tree.verify_log(session, public_key(app.config), workers=2)
    assert report.ok and report.entries == 8 and report.checkpoints == 2, problems(report)
    with unguarded(db) as conn:
        conn.execute(text("UPDATE audit_log SET entity_id = 'x' WHERE id = :id"), {"id": sealed[4].id})
        conn.execute(text("DELETE FROM audit_tree_leaves WHERE position = 7"))
    with app.extensions["database"].session() as session:
        report = audit_tree.verify_log(session, public_key(app.config), workers=2)
    assert not report.ok and report.first_bad_position == 4
    assert "at position 4 was changed" in problems(report)
    assert "The log ends after 7 entries but a checkpoint covers 8" in problems(report)

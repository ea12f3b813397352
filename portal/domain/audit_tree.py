"""The sequencer of the audit log, its proofs, and checking the whole log against signed checkpoints.

Modelled on Certificate Transparency logs (RFC 6962/9162) as Trillian runs them: writers only queue
entries; a sequencer takes a batch of queued entries in one short transaction, gives them the next
positions, stores their leaf hashes and every perfect subtree they complete, and moves the tree's size.
At the end of a run it signs a checkpoint (size, root, time) together with a consistency proof from the
previous checkpoint.

Several sequencers may run at once (one per scheduler process): each batch starts with a conditional
update of the single `audit_tree_state` row (`WHERE tree_size = <what I read>`), which both claims the
batch and holds that one row lock until the short sequencing transaction commits. A sequencer that lost
the race updates nothing, rolls back and reads again. Writers never touch that row.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from portal.domain import merkle
from portal.domain.audit import leaf_bytes
from portal.domain.audit_signing import Checkpoint, Problem, Signer
from portal.domain.models import (
    AuditCheckpoint,
    AuditEntry,
    AuditLeaf,
    AuditNode,
    AuditPending,
    AuditTreeState,
)
from portal.domain.types import N_, rowcount, utcnow

STATE_ID = 1
BATCH = 2000
SEGMENT = 100_000  # positions re-hashed per task when `audit verify` runs in several processes
_CHUNK = 500  # bound parameters per IN list

SessionFactory = Callable[[], Session]
# A re-hashed range of the log: positions (array of int64, as bytes), their leaf hashes (32 bytes each)
# and the problems found, each with its position.
Segment = tuple[bytes, bytes, list[tuple[int, str, dict[str, Any]]]]
_ENTRY_COLUMNS = (
    AuditEntry.id,
    AuditEntry.occurred_at,
    AuditEntry.actor_id,
    AuditEntry.actor_label,
    AuditEntry.action,
    AuditEntry.entity_type,
    AuditEntry.entity_id,
    AuditEntry.details,
)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fetch_nodes(session: Session, keys: set[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    """Stored hashes of perfect subtrees: level 0 from the leaves, higher levels from the nodes."""
    found: dict[merkle.NodeKey, bytes] = {}
    leaves = sorted(index for level, index in keys if level == 0)
    inner = sorted(key for key in keys if key[0] > 0)
    for chunk in _chunks(leaves):
        for position, digest in session.execute(
            select(AuditLeaf.position, AuditLeaf.leaf_hash).where(AuditLeaf.position.in_(chunk))
        ):
            found[(0, position)] = bytes.fromhex(digest)
    for chunk in _chunks(inner):
        for level, idx, digest in session.execute(
            select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(
                tuple_(AuditNode.level, AuditNode.idx).in_(list(chunk))
            )
        ):
            found[(level, idx)] = bytes.fromhex(digest)
    return found


def prover(session: Session) -> merkle.Prover:
    return merkle.Prover(lambda keys: fetch_nodes(session, keys))


def _read_state(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(AuditTreeState.tree_size, AuditTreeState.root_hash).where(AuditTreeState.id == STATE_ID)
    ).first()
    if row is not None:
        return row[0], row[1]
    # The migration creates the row; recreate it for a database emptied by hand (never over a tree).
    session.rollback()
    if session.scalar(select(AuditLeaf.position).limit(1)) is not None:
        raise RuntimeError("audit_tree_state is missing although the tree has leaves")
    try:
        session.add(AuditTreeState(id=STATE_ID, tree_size=0, root_hash=merkle.EMPTY_ROOT.hex()))
        session.commit()
    except IntegrityError:
        session.rollback()
    return _read_state(session)


def _place_batch(factory: SessionFactory, batch: int) -> int | None:
    """Sequence up to `batch` pending entries in one transaction.

    Returns how many were placed (0: nothing pending), or None when another sequencer moved first.
    """
    with factory() as session:
        old_size, _old_root = _read_state(session)
        if session.scalar(select(AuditPending.entry_id).limit(1)) is None:
            return 0
        # The claim: only one sequencer can move the tree from `old_size`; it holds this row until commit.
        claimed = rowcount(session.execute(
            update(AuditTreeState)
            .where(AuditTreeState.id == STATE_ID, AuditTreeState.tree_size == old_size)
            .values(updated_at=utcnow())
        ))
        if claimed != 1:
            session.rollback()
            return None
        conn = session.connection()  # plain rows in and out: this is the hot path
        rows = conn.execute(
            select(*_ENTRY_COLUMNS)
            .join(AuditPending, AuditPending.entry_id == AuditEntry.id)
            .order_by(AuditEntry.id)
            .limit(batch)
        ).all()
        if not rows:
            session.rollback()
            return 0
        edge_keys = merkle.perfect_subtrees(0, old_size)
        stored = fetch_nodes(session, set(edge_keys))
        tree = merkle.CompactRange(old_size, [stored[key] for key in edge_keys])
        leaves: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        for row in rows:
            digest = merkle.leaf_hash(leaf_bytes(*row))
            leaves.append({"position": tree.size, "entry_id": row[0], "leaf_hash": digest.hex()})
            for (level, idx), h in tree.append(digest):
                nodes.append({"level": level, "idx": idx, "hash": h.hex()})
        conn.execute(insert(cast(Table, AuditLeaf.__table__)), leaves)
        if nodes:
            conn.execute(insert(cast(Table, AuditNode.__table__)), nodes)
        pending = cast(Table, AuditPending.__table__)
        ids = [row[0] for row in rows]
        for chunk in _chunks(ids, 1000):
            conn.execute(delete(pending).where(pending.c.entry_id.in_(chunk)))
        session.execute(
            update(AuditTreeState)
            .where(AuditTreeState.id == STATE_ID)
            .values(tree_size=tree.size, root_hash=tree.root().hex(), updated_at=utcnow())
        )
        session.commit()
        return len(rows)


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1))


def as_checkpoint(row: AuditCheckpoint) -> Checkpoint:
    """The stored checkpoint as signed; raises ValueError when a stored field is malformed."""
    return Checkpoint(
        row.tree_size,
        bytes.fromhex(row.root_hash),
        row.signed_at,
        row.key_id,
        base64.b64decode(row.signature, validate=True),
    )


def sign_checkpoint(
    factory: SessionFactory, signer: Signer, now: datetime | None = None
) -> Checkpoint | None:
    """Sign the tree as it stands, unless the latest checkpoint already covers it; returns the latest.

    Claims the state row first, like a batch does, so checkpoints are signed one after the other and each
    carries the consistency proof from the one before.
    """
    for attempt in range(100):
        with factory() as session:
            size, root = _read_state(session)
            latest = latest_checkpoint(session)
            if size == 0 or (latest is not None and latest.tree_size >= size):
                return as_checkpoint(latest) if latest is not None else None
            claimed = rowcount(session.execute(
                update(AuditTreeState)
                .where(AuditTreeState.id == STATE_ID, AuditTreeState.tree_size == size)
                .values(updated_at=utcnow())
            ))
            if claimed != 1:
                session.rollback()
                time.sleep(0.001 * attempt)
                continue
            latest = latest_checkpoint(session)  # again, now that no one else can sign
            if latest is not None and latest.tree_size >= size:
                signed = as_checkpoint(latest)
                session.rollback()
                return signed
            previous = latest.tree_size if latest is not None else 0
            proof = prover(session).consistency(previous, size)
            signed = signer.sign(size, bytes.fromhex(root), now or utcnow())
            session.add(
                AuditCheckpoint(
                    tree_size=size,
                    root_hash=root,
                    signed_at=signed.timestamp,
                    key_id=signed.key_id,
                    signature=base64.b64encode(signed.signature).decode("ascii"),
                    previous_size=previous,
                    consistency=[h.hex() for h in proof],
                )
            )
            session.commit()
            return signed
    raise RuntimeError("could not sign an audit checkpoint: the tree kept moving")


@dataclass
class SequenceResult:
    sequenced: int = 0
    batches: int = 0
    lost_races: int = 0
    checkpoint: Checkpoint | None = None


def sequence(
    factory: SessionFactory,
    signer: Signer,
    batch: int = BATCH,
    max_seconds: float | None = None,
) -> SequenceResult:
    """Sequence everything pending (in batches, each its own short transaction), then sign a checkpoint."""
    result = SequenceResult()
    started = time.monotonic()
    while max_seconds is None or time.monotonic() - started < max_seconds:
        placed = _place_batch(factory, batch)
        if placed is None:
            result.lost_races += 1
            time.sleep(0.001 * min(result.lost_races, 50))
            continue
        if placed == 0:
            break
        result.sequenced += placed
        result.batches += 1
    result.checkpoint = sign_checkpoint(factory, signer)
    return result


def positions_of(session: Session, entry_ids: Iterable[int]) -> dict[int, int]:
    """Entry id -> position, for the given entries that are sequenced."""
    found: dict[int, int] = {}
    for chunk in _chunks(sorted(set(entry_ids))):
        found.update(
            session.execute(
                select(AuditLeaf.entry_id, AuditLeaf.position).where(AuditLeaf.entry_id.in_(chunk))
            ).all()
        )
    return found


def sequence_through(factory: SessionFactory, signer: Signer, entry_ids: Iterable[int]) -> Checkpoint:
    """Sequence until every given (committed) entry has a position; a checkpoint that covers them all."""
    wanted = set(entry_ids)
    for attempt in range(100):
        checkpoint = sequence(factory, signer).checkpoint
        with factory() as session:
            positions = positions_of(session, wanted)
        if (
            len(positions) == len(wanted)
            and checkpoint is not None
            and checkpoint.tree_size > max(positions.values(), default=-1)
        ):
            return checkpoint
        time.sleep(0.01 * attempt)  # another sequencer holds them in a batch that has not committed yet
    raise RuntimeError("the audit log could not be sequenced")


@dataclass
class SequencerStatus:
    pending: int
    oldest_pending_at: datetime | None
    lag_seconds: float | None  # age of the oldest entry still waiting for its position
    tree_size: int
    checkpoint_size: int | None
    checkpoint_at: datetime | None


def sequencer_status(session: Session, now: datetime | None = None) -> SequencerStatus:
    now = now or utcnow()
    pending, oldest = session.execute(
        select(func.count(), func.min(AuditEntry.occurred_at))
        .select_from(AuditPending)
        .join(AuditEntry, AuditEntry.id == AuditPending.entry_id)
    ).one()
    size = session.scalar(select(AuditTreeState.tree_size).where(AuditTreeState.id == STATE_ID)) or 0
    latest = latest_checkpoint(session)
    return SequencerStatus(
        pending=pending,
        oldest_pending_at=oldest,
        lag_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else None,
        tree_size=size,
        checkpoint_size=latest.tree_size if latest else None,
        checkpoint_at=latest.signed_at if latest else None,
    )


# ---------------------------------------------------------------------------------------------------------
# Checking the whole log


MAX_PROBLEMS = 20


@dataclass
class LogReport:
    entries: int = 0  # sequenced entries read back and hashed
    tree_size: int = 0  # size of the latest checkpoint
    checkpoint_at: datetime | None = None
    checkpoints: int = 0
    unsequenced: int = 0
    unsigned: int = 0  # sequenced after the latest checkpoint: the next one will cover them
    problems: list[Problem] = field(default_factory=list)
    first_bad_position: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, message: str, at: int | None = None, **params: Any) -> None:
        """Record a problem; `at` is the first position it concerns, when it concerns one."""
        if at is not None and (self.first_bad_position is None or at < self.first_bad_position):
            self.first_bad_position = at
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append((message, params))
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append((N_("… and more problems."), {}))


_MISSING = (None,) * len(_ENTRY_COLUMNS)


_ENTRIES = (
    "SELECT id, occurred_at, actor_id, actor_label, action, entity_type, entity_id, details FROM audit_log"
)


def _entries_by_id(conn: Any, ids: list[int]) -> dict[int, Any]:
    """The entries with these ids, as leaf_bytes takes them, read through the primary key.

    Plain SQL without column types: `audit verify` reads every entry of the log, and the driver's own
    values (datetimes and parsed JSON from psycopg, text from SQLite) are converted only where needed.
    """
    if not ids:
        return {}
    low, high = min(ids), max(ids)
    if high - low < 4 * len(ids):  # sequenced in about the order written: one range scan
        found = conn.execute(text(f"{_ENTRIES} WHERE id BETWEEN :low AND :high"), {"low": low, "high": high})
        rows = found.all()
    else:
        rows = []
        for chunk in _chunks(sorted(set(ids))):
            query = text(f"{_ENTRIES} WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
            rows.extend(conn.execute(query, {"ids": list(chunk)}).all())
    entries = {}
    for row in rows:
        entry_id, occurred_at, actor_id, actor_label, action, entity_type, entity_id, details = row
        if isinstance(occurred_at, str):  # SQLite: naive UTC text
            occurred_at = datetime.fromisoformat(occurred_at).replace(tzinfo=UTC)
        elif occurred_at.tzinfo is None:
            occurred_at = occurred_at.replace(tzinfo=UTC)
        if isinstance(details, str | bytes):
            details = json.loads(details)
        entries[entry_id] = (
            entry_id,
            occurred_at,
            actor_id,
            actor_label,
            action,
            entity_type,
            entity_id,
            details,
        )
    return entries


def _unhex(text: str | None) -> bytes:
    try:
        return bytes.fromhex(text or "")
    except ValueError:
        return b""


def _check_checkpoints(rows: list[AuditCheckpoint], key: Any, report: LogReport) -> None:
    previous: AuditCheckpoint | None = None
    for row in rows:
        try:
            checkpoint = as_checkpoint(row)
        except ValueError:
            report.problem(N_("The checkpoint of size %(size)d cannot be read."), size=row.tree_size)
            continue
        wrong = checkpoint.verify(key)
        if wrong:
            report.problem(N_("Checkpoint of size %(size)d: %(problem)s"), size=row.tree_size, problem=wrong)
        expected_previous = previous.tree_size if previous else 0
        if (row.previous_size or 0) != expected_previous:
            report.problem(
                N_(
                    "The checkpoint of size %(size)d does not follow the checkpoint of size "
                    "%(previous)d: a checkpoint is missing."
                ),
                size=row.tree_size,
                previous=expected_previous,
            )
        elif previous is not None:
            proof = [_unhex(h) if isinstance(h, str) else b"" for h in row.consistency or []]
            if not merkle.verify_consistency(
                previous.tree_size, row.tree_size, proof, _unhex(previous.root_hash), _unhex(row.root_hash)
            ):
                report.problem(
                    N_(
                        "The checkpoint of size %(size)d is not consistent with the one of size "
                        "%(previous)d: the log was rewritten between them."
                    ),
                    size=row.tree_size,
                    previous=previous.tree_size,
                )
        previous = row


_REMOVED = N_("Entry #%(entry)d at position %(position)d was removed.")
_CHANGED = N_("Entry #%(entry)d at position %(position)d was changed after it was sequenced.")


def _segment(conn: Any, start: int, stop: int, batch: int) -> Segment:
    """Leaves [start, stop) recomputed from their rows: positions, leaf hashes, and what was wrong.

    A range of positions at a time, each entry read through the primary key: the server never joins or
    sorts the whole log.
    """
    positions: array[int] = array("q")
    digests = bytearray()
    problems: list[tuple[int, str, dict[str, Any]]] = []
    for first in range(start, stop, batch):
        leaves = conn.execute(
            select(AuditLeaf.position, AuditLeaf.entry_id, AuditLeaf.leaf_hash)
            .where(AuditLeaf.position >= first, AuditLeaf.position < min(first + batch, stop))
            .order_by(AuditLeaf.position)
        ).all()
        entries = _entries_by_id(conn, [leaf[1] for leaf in leaves])
        for position, entry_id, stored in leaves:
            entry = entries.get(entry_id, _MISSING)
            if entry[0] is None:
                problems.append((position, _REMOVED, {"entry": entry_id, "position": position}))
                digest = _unhex(stored).rjust(32, b"\0")[:32]  # go on with what the tree says, to find more
            else:
                digest = merkle.leaf_hash(leaf_bytes(*entry))
                if digest.hex() != stored:
                    problems.append((position, _CHANGED, {"entry": entry_id, "position": position}))
            positions.append(position)
            digests += digest
    return positions.tobytes(), bytes(digests), problems


def _segment_in_process(job: tuple[str, int, int, int]) -> Segment:
    url, start, stop, batch = job
    from portal.db import make_engine

    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _segment(conn, start, stop, batch)
    finally:
        engine.dispose()


def _fold(
    segments: Iterable[Segment],
    tree: merkle.CompactRange,
    report: LogReport,
    targets: dict[int, list[tuple[str, bytes]]],
    compare: Callable[[int, bytes], None],
) -> None:
    """Fold the segments' leaf hashes into the tree in position order, comparing every checkpoint."""
    for raw_positions, digests, problems in segments:
        positions = array("q")
        positions.frombytes(raw_positions)
        for position, message, params in problems:
            report.problem(message, position, **params)
        for i, position in enumerate(positions):
            if position != tree.size:
                report.problem(
                    N_("Position %(position)d is missing from the tree (the next is %(next)d)."),
                    tree.size,
                    position=tree.size,
                    next=position,
                )
                return
            tree.append(digests[i * 32 : i * 32 + 32])
            report.entries += 1
            if tree.size in targets:
                compare(tree.size, tree.root())


def default_workers(session: Session) -> int:
    """Processes for `audit verify`: one per core (at most four) once the log spans several segments."""
    size = session.scalar(select(AuditTreeState.tree_size).where(AuditTreeState.id == STATE_ID)) or 0
    if size < 2 * SEGMENT or session.get_bind().dialect.name != "postgresql":
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def verify_log(
    session: Session,
    key: Any,
    also: Sequence[Checkpoint] = (),
    batch: int = 20_000,
    workers: int = 1,
) -> LogReport:
    """Recompute every leaf from its row, in position order, and compare the tree with every checkpoint.

    `key` is the Ed25519 public key the checkpoints must be signed with; `also` are checkpoints held
    outside the database (from evidence packs, say): the log must still contain the tree they signed.
    Entries not sequenced yet are counted, not failed. With `workers` > 1, segments of the log are
    re-hashed in that many processes (the command line does this for a large log).
    """
    report = LogReport()
    rows = list(session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)))
    report.checkpoints = len(rows)
    _check_checkpoints(rows, key, report)
    external: list[Checkpoint] = []
    for checkpoint in also:
        wrong = checkpoint.verify(key)
        if wrong:
            report.problem(
                N_("The checkpoint given, of size %(size)d: %(problem)s"),
                size=checkpoint.tree_size,
                problem=wrong,
            )
        else:
            external.append(checkpoint)
    stored = N_(
        "The first %(size)d entries no longer give the root signed in the checkpoint of that size: "
        "entries were changed, removed, reordered or inserted."
    )
    given = N_(
        "The first %(size)d entries no longer give the root of the checkpoint given: entries were "
        "changed, removed, reordered or inserted."
    )
    targets: dict[int, list[tuple[str, bytes]]] = {}
    for row in rows:
        targets.setdefault(row.tree_size, []).append((stored, _unhex(row.root_hash)))
    for checkpoint in external:
        targets.setdefault(checkpoint.tree_size, []).append((given, checkpoint.root_hash))
    latest = rows[-1] if rows else None
    report.tree_size = latest.tree_size if latest else 0
    report.checkpoint_at = latest.signed_at if latest else None

    def compare(size: int, root: bytes) -> None:
        for message, expected in targets.get(size, []):
            if expected != root:
                report.problem(message, size - 1, size=size)

    if 0 in targets:
        compare(0, merkle.EMPTY_ROOT)
    tree = merkle.CompactRange()
    conn = session.connection()
    last = conn.execute(select(func.max(AuditLeaf.position))).scalar()
    stop = 0 if last is None else last + 1
    ranges = [(start, min(start + SEGMENT, stop)) for start in range(0, stop, SEGMENT)]
    if workers > 1 and len(ranges) > 1:
        url = conn.engine.url.render_as_string(hide_password=False)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            segments = pool.map(_segment_in_process, [(url, a, b, batch) for a, b in ranges])
            _fold(segments, tree, report, targets, compare)
    else:
        _fold((_segment(conn, a, b, batch) for a, b in ranges), tree, report, targets, compare)
    highest = max(targets) if targets else 0
    if tree.size < highest:
        report.problem(
            N_(
                "The log ends after %(size)d entries but a checkpoint covers %(covered)d: entries "
                "were removed from its end."
            ),
            tree.size,
            size=tree.size,
            covered=highest,
        )
    if latest is not None and tree.size > latest.tree_size:
        report.unsigned = tree.size - latest.tree_size
    state = session.execute(
        select(AuditTreeState.tree_size, AuditTreeState.root_hash).where(AuditTreeState.id == STATE_ID)
    ).first()
    if state is not None and (state[0] != tree.size or state[1] != tree.root().hex()) and report.ok:
        report.problem(N_("The stored tree head does not match the leaves."))
    total = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    report.unsequenced = max(0, total - report.entries)
    return report

"""The signed audit log on PostgreSQL: concurrent writers, the sequencer, `audit verify` and `verify-pack`.

Run by hand:  .venv/bin/python benchmarks/audit_bench.py [--entries 1000000] [--writers 4] [--writes 5000]

1. Fills a fresh PostgreSQL database (a throwaway cluster, as the tests start one) with ENTRIES audit
   entries, sequences them into the Merkle tree and signs a checkpoint (sequencer throughput), then times
   `audit verify` over the whole log: every row re-hashed and the tree recomputed against the checkpoint.
2. Starts WRITERS processes that each append WRITES entries, one per transaction (the way a sign-in
   writes) and then ten per transaction, while two sequencer processes run every second side by side as
   two schedulers would. Prints the writers' combined rate, how many transactions failed (none may) and
   the sequencer's lag. Two controls run the same way: plain rows with no audit log at all (what this
   machine can do), and rows chained like the old audit log (advisory lock, read the head, link to it).
3. Renders a typical evidence pack (a case with photos, a video and its audit trail) against that tree and
   times `verify-pack` on it, which reads only the PDF and the public key.
Targets (issue 15): writers >= 2,000 entries/s; verify-pack < 1 s; audit verify of 1,000,000 < 60 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from portal import migrate  # noqa: E402
from portal.db import make_engine  # noqa: E402
from portal.domain.audit_signing import load_public_key, signer_from_text  # noqa: E402
from portal.domain.audit_tree import default_workers, sequence, verify_log  # noqa: E402


def fill(url: str, count: int) -> None:
    """COUNT entries written in bulk (the trigger queues each for the sequencer, as for any writer)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO audit_log (occurred_at, actor_id, actor_label, action, entity_type, entity_id,
                                         details)
               SELECT now() - make_interval(secs => :count - n), NULL,
                      'agent' || (n % 40) || '@example.test', 'case.note_added', 'case', 'AS-' || (n % 50000),
                      json_build_object('kind', 'note_added', 'note', 'Checked the parcel photos #' || n,
                                        'amount', ((n % 9000) / 100.0)::text)
               FROM generate_series(1, :count) AS n"""
            ),
            {"count": count},
        )
        conn.execute(text("ANALYZE"))
    engine.dispose()


def load() -> str:
    """The machine's load average: on a shared machine, figures are only comparable with it."""
    return f" [load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]"


def scalar(url: str, sql: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.scalar(text(sql))
    engine.dispose()
    return int(value or 0)


CONTROL_TABLES = """
CREATE TABLE IF NOT EXISTS bench_plain (id bigserial PRIMARY KEY, body text NOT NULL);
CREATE TABLE IF NOT EXISTS bench_chain (id bigserial PRIMARY KEY, body text NOT NULL,
                                        prev_hash text UNIQUE NOT NULL, hash text UNIQUE NOT NULL);
"""


def _write_one(mode: str, session: Session, number: int, i: int) -> None:
    from portal.domain import audit

    body = {"kind": "note_added", "note": f"writer {number} note {i}"}
    if mode == "audit":
        audit.record(
            session,
            "case.note_added",
            "case",
            f"AS-{number}-{i}",
            body,
            actor_label=f"writer{number}@example.test",
        )
    elif mode == "plain":  # control: the same transaction writing an ordinary row, no audit log at all
        session.execute(text("INSERT INTO bench_plain (body) VALUES (:b)"), {"b": json.dumps(body)})
    else:  # control: the old hash chain (advisory lock to commit, read the head, link to it)
        session.execute(text("SELECT pg_advisory_xact_lock(7220415)"))
        prev = session.scalar(text("SELECT hash FROM bench_chain ORDER BY id DESC LIMIT 1")) or "0" * 64
        digest = hashlib.sha256((prev + json.dumps(body)).encode()).hexdigest()
        session.execute(
            text("INSERT INTO bench_chain (body, prev_hash, hash) VALUES (:b, :p, :h)"),
            {"b": json.dumps(body), "p": prev, "h": digest},
        )


def _writer(
    url: str, mode: str, number: int, writes: int, per_txn: int, work_ms: float, start: Any, out: Any
) -> None:
    engine = make_engine(url, pool_size=1)  # the portal's own engine settings
    factory = sessionmaker(engine, expire_on_commit=False)
    failures = 0
    latencies = []
    start.wait()
    began = time.perf_counter()
    for first in range(0, writes, per_txn):
        t = time.perf_counter()
        try:
            with factory() as session:
                for i in range(first, min(first + per_txn, writes)):
                    _write_one(mode, session, number, i)
                if work_ms:  # the rest of the transaction's work, after its audit entry (no CPU here)
                    session.execute(text("SELECT pg_sleep(:s)"), {"s": work_ms / 1000})
                session.commit()
        except Exception:  # noqa: BLE001  (counted: the target is zero)
            failures += 1
        latencies.append(time.perf_counter() - t)
    out.put((number, began, time.perf_counter(), failures, latencies))
    engine.dispose()


def _sequencer(url: str, key_text: str, stop: Any) -> None:
    """As in a scheduler process: sequence every second."""
    engine = make_engine(url, pool_size=2)
    factory = sessionmaker(engine, expire_on_commit=False)
    signer = signer_from_text(key_text)
    while not stop.wait(1.0):
        sequence(factory, signer)
    engine.dispose()


def writers_phase(
    url: str, key_text: str, writers: int, writes: int, per_txn: int, mode: str, work_ms: float = 0
) -> None:
    context = multiprocessing.get_context("fork")
    start, stop, out = context.Event(), context.Event(), context.Queue()
    sequencers = [context.Process(target=_sequencer, args=(url, key_text, stop)) for _ in range(2)]
    procs = [
        context.Process(target=_writer, args=(url, mode, n, writes, per_txn, work_ms, start, out))
        for n in range(writers)
    ]
    for p in sequencers + procs:
        p.start()
    time.sleep(1.0)  # every writer connected and waiting
    start.set()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    began = min(r[1] for r in results)
    ended = max(r[2] for r in results)
    failures = sum(r[3] for r in results)
    latencies = sorted(x for r in results for x in r[4])
    total = writers * writes
    elapsed = ended - began
    drained_at = time.perf_counter()
    while scalar(url, "SELECT count(*) FROM audit_pending"):
        time.sleep(0.1)
    drain = time.perf_counter() - drained_at
    stop.set()
    for p in sequencers:
        p.join(timeout=60)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    what = {
        "audit": "audit entries",
        "plain": "plain rows (control, no audit log)",
        "chain": "hash-chained rows (control, the old design)",
    }[mode]
    print(
        f"  {writers} writers x {writes:,} {what}, {per_txn} per transaction"
        + (f" + {work_ms:g} ms of other work" if work_ms else "")
        + f": {total:,} in {elapsed:.2f}s = "
        f"{total / elapsed:,.0f}/s; failed transactions: {failures}; transaction latency p50 "
        f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
        + (f"; sequencer caught up {drain:.2f}s after the last write" if mode == "audit" else "")
        + load()
    )


def pack_phase(url: str, key_text: str, workdir: Path) -> None:
    from flask_babel import force_locale
    from support.app import make_test_app
    from test_documents_data import build_case

    from portal.audit.keys import public_key
    from portal.documents.evidence import render_evidence_pack
    from portal.documents.pack_proof import verify_pack

    app = make_test_app(url, workdir, AUDIT_SIGNING_KEY=key_text)
    store = app.extensions["attachments"]
    with app.app_context(), force_locale("en"):
        session = app.extensions["database"].session()
        case = build_case(session, store, number="AS-BENCH1", photos=4, events=12)
        session.commit()
        started = time.perf_counter()
        pack = render_evidence_pack(session, store, case, actor_label="bench")
        rendered = time.perf_counter() - started
        session.commit()
        session.close()
        path = workdir / "pack.pdf"
        path.write_bytes(pack.pdf)
        key_pem = signer_from_text(key_text).public_pem()
    times = []
    for _ in range(20):
        t = time.perf_counter()
        report = verify_pack(path.read_bytes(), load_public_key(key_pem))
        times.append(time.perf_counter() - t)
        assert report.ok, report.summary
    with app.app_context():
        assert verify_pack(pack.pdf, public_key()).ok
    print(
        f"  evidence pack: {len(pack.pdf):,} bytes, {report.entries} audit entries with proofs against "
        "a tree "
        f"of {report.checkpoint.tree_size:,} (rendered and sequenced in {rendered:.2f}s)"
    )
    print(
        f"  verify-pack (read the PDF, check signature, proofs and manifest): median "
        f"{statistics.median(times) * 1000:.1f} ms, worst {max(times) * 1000:.1f} ms over 20 runs"
    )
    app.extensions["database"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--writes", type=int, default=5_000, help="entries each writer appends")
    parser.add_argument("--verify-only", action="store_true", help="stop after `audit verify`")
    parser.add_argument(
        "--per-transaction",
        type=int,
        nargs="+",
        default=[1, 10],
        help="entries per writer transaction, one run each",
    )
    options = parser.parse_args()
    from support.postgres import PostgresCluster

    key_text = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    signer = signer_from_text(key_text)
    cluster = PostgresCluster()
    cluster.start()
    workdir = Path(tempfile.mkdtemp())
    try:
        url = cluster.create_database("audit_bench")
        migrate.upgrade(url)
        started = time.perf_counter()
        fill(url, options.entries)
        print(f"{options.entries:,} audit entries written in bulk in {time.perf_counter() - started:.1f}s")

        engine = make_engine(url)
        factory = sessionmaker(engine, expire_on_commit=False)
        started = time.perf_counter()
        result = sequence(factory, signer, batch=5000)
        elapsed = time.perf_counter() - started
        print(
            f"  sequencer: {result.sequenced:,} entries placed and signed in {elapsed:.1f}s "
            f"({result.sequenced / elapsed:,.0f} entries/s, {result.batches} batches)"
        )
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        with factory() as session:
            choices = sorted({1, default_workers(session)})
        for workers in choices:
            with factory() as session:
                started, cpu = time.perf_counter(), time.process_time()
                report = verify_log(session, signer.public_key, workers=workers)
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert report.ok, report.problems
            print(
                f"  audit verify ({workers} process{'es' if workers > 1 else ''}): {report.entries:,} "
                f"entries re-hashed and checked against the checkpoint of {report.tree_size:,} "
                f"in {elapsed:.1f}s ({cpu:.1f}s CPU in the main process){load()}"
            )
        engine.dispose()
        if options.verify_only:
            return

        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(CONTROL_TABLES)
        engine.dispose()
        print(
            f"{options.writers} concurrent writer processes, two sequencers running as two schedulers would:"
        )
        for per_txn in options.per_transaction:
            writers_phase(url, key_text, options.writers, options.writes, per_txn, "audit")
        writers_phase(url, key_text, options.writers, options.writes, 1, "plain")
        writers_phase(url, key_text, options.writers, min(options.writes, 1_000), 1, "chain")
        # Transactions that go on after their audit entry (as a deadline's effect or an import does): the
        # old chain held its lock to commit, so they ran one at a time.
        few = min(options.writes, 500)
        writers_phase(url, key_text, options.writers, few, 1, "audit", work_ms=20)
        writers_phase(url, key_text, options.writers, few, 1, "chain", work_ms=20)
        pack_phase(url, key_text, workdir)
        with make_engine(url).connect() as conn:
            total = conn.scalar(text("SELECT count(*) FROM audit_tree_leaves"))
        engine = make_engine(url)
        with sessionmaker(engine)() as session:
            started, cpu = time.perf_counter(), time.process_time()
            report = verify_log(session, signer.public_key, workers=default_workers(session))
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        engine.dispose()
        assert report.ok, report.problems
        print(
            f"  audit verify again: {report.entries:,} entries, {report.checkpoints:,} checkpoints "
            f"(tree of {total:,}) in {elapsed:.1f}s ({cpu:.1f}s CPU){load()}"
        )
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()

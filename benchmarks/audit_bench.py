"""The signed audit log on PostgreSQL: concurrent writers, the sequencer, `audit verify` and `verify-pack`.

Run by hand:  .venv/bin/python benchmarks/audit_bench.py [--entries 1000000] [--writers 4] [--writes 5000]

1. Fills a fresh PostgreSQL database (a throwaway cluster, as the tests start one) with ENTRIES audit
   entries, sequences them into the Merkle tree and signs a checkpoint (sequencer throughput), then times
   `audit verify` over the whole log: every row re-hashed and the tree recomputed against the checkpoint.
2. Starts WRITERS processes that each append WRITES entries, one entry per transaction (the way sign-ins
   and case notes write), while two sequencer processes run side by side as two schedulers would.
   Prints the writers' combined rate, how many writes failed (none may), and the sequencer's lag.
3. Renders a typical evidence pack (a case with photos, a video and its audit trail) against that tree and
   times `verify-pack` on it, which reads only the PDF and the public key.
Targets (issue 15): writers >= 2,000 entries/s; verify-pack < 1 s; audit verify of 1,000,000 < 60 s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from portal import migrate  # noqa: E402
from portal.db import make_engine  # noqa: E402
from portal.domain.audit_signing import load_public_key, signer_from_text  # noqa: E402
from portal.domain.audit_tree import sequence, verify_log  # noqa: E402


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


def scalar(url: str, sql: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.scalar(text(sql))
    engine.dispose()
    return int(value or 0)


def _writer(url: str, number: int, writes: int, start: object, out: object) -> None:
    from portal.domain import audit

    engine = make_engine(url, pool_size=1)
    factory = sessionmaker(engine, expire_on_commit=False)
    failures = 0
    latencies = []
    start.wait()  # type: ignore[attr-defined]
    began = time.perf_counter()
    for i in range(writes):
        t = time.perf_counter()
        try:
            with factory() as session:
                audit.record(
                    session,
                    "case.note_added",
                    "case",
                    f"AS-{number}-{i}",
                    {"kind": "note_added", "note": f"writer {number} note {i}"},
                    actor_label=f"writer{number}@example.test",
                )
                session.commit()
        except Exception:  # noqa: BLE001  (counted: the target is zero)
            failures += 1
        latencies.append(time.perf_counter() - t)
    out.put((number, began, time.perf_counter(), failures, latencies))  # type: ignore[attr-defined]
    engine.dispose()


def _sequencer(url: str, key_text: str, stop: object) -> None:
    engine = make_engine(url, pool_size=2)
    factory = sessionmaker(engine, expire_on_commit=False)
    signer = signer_from_text(key_text)
    while not stop.is_set():  # type: ignore[attr-defined]
        if sequence(factory, signer).sequenced == 0:
            time.sleep(0.2)
    engine.dispose()


def writers_phase(url: str, key_text: str, writers: int, writes: int) -> None:
    context = multiprocessing.get_context("fork")
    start, stop, out = context.Event(), context.Event(), context.Queue()
    sequencers = [context.Process(target=_sequencer, args=(url, key_text, stop)) for _ in range(2)]
    procs = [context.Process(target=_writer, args=(url, n, writes, start, out)) for n in range(writers)]
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
    print(
        f"  {writers} writer processes, one entry per transaction, two sequencers running: "
        f"{total:,} entries in {elapsed:.2f}s = {total / elapsed:,.0f} entries/s; failed writes: {failures}"
    )
    print(
        f"  write latency p50 {statistics.median(latencies) * 1000:.2f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.2f} ms; "
        f"sequencer caught up {drain:.2f}s after the last write"
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
            started = time.perf_counter()
            report = verify_log(session, signer.public_key)
            elapsed = time.perf_counter() - started
        assert report.ok, report.problems
        print(
            f"  audit verify: {report.entries:,} entries re-hashed and checked against the checkpoint of "
            f"{report.tree_size:,} in {elapsed:.1f}s"
        )
        engine.dispose()

        writers_phase(url, key_text, options.writers, options.writes)
        pack_phase(url, key_text, workdir)
        with make_engine(url).connect() as conn:
            total = conn.scalar(text("SELECT count(*) FROM audit_tree_leaves"))
        engine = make_engine(url)
        with sessionmaker(engine)() as session:
            started = time.perf_counter()
            report = verify_log(session, signer.public_key)
            elapsed = time.perf_counter() - started
        engine.dispose()
        assert report.ok, report.problems
        print(
            f"  audit verify again: {report.entries:,} entries, {report.checkpoints:,} checkpoints "
            f"(tree of {total:,}) in {elapsed:.1f}s"
        )
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()

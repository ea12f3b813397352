"""PDF speed: return instructions, a typical and a large evidence pack, and a streamed 500-case export.

Run by hand: `python benchmarks/pdf_bench.py [--cases 500]`. Prints the median time and the peak memory
(of this process and of the renderer worker) for each. Targets: instructions < 0.5 s, typical pack < 1 s,
a 500-case export < 4 min, export memory that does not grow with the number of cases.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flask_babel import force_locale  # noqa: E402
from test_documents_data import build_case, sqlite_app  # noqa: E402

from portal.documents.evidence import load_case, render_evidence_pack  # noqa: E402
from portal.documents.export import ExportFilter, render_threads, write_export  # noqa: E402
from portal.documents.instructions import render_return_instructions  # noqa: E402
from portal.documents.render import pool_for  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_peak_mb() -> str:
    peaks = []
    for pool in list(__import__("portal.documents.render", fromlist=["_POOLS"])._POOLS.values()):
        for worker in pool._idle:
            status = Path(f"/proc/{worker.proc.pid}/status").read_text()
            peaks.append(int(status.split("VmHWM:")[1].split()[0]) / 1024)
    return f"{max(peaks):.0f} MB" if peaks else "n/a"


def timed(label: str, runs: int, action: Callable[[], object]) -> None:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    print(
        f"{label:<34} median {statistics.median(times):6.3f} s  (n={runs})  "
        f"process peak {_rss_mb():.0f} MB, worker peak {_worker_peak_mb()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=500)
    args = parser.parse_args()
    app = sqlite_app(Path(tempfile.mkdtemp(prefix="pdf-bench-")))
    store = app.extensions["attachments"]
    sessions = app.extensions["database"].session
    with app.app_context(), force_locale("en"):
        session = sessions()
        typical = build_case(session, store, number="AS-BENCH01", language="de", cross_border=True)
        large = build_case(session, store, number="AS-BENCH02", events=200, photos=30)
        session.commit()
        pool_for(1536)  # warm-up below starts the worker, as a running portal would have
        render_return_instructions(session, store, typical, typical.returns[0])
        timed(
            "return instructions",
            15,
            lambda: render_return_instructions(session, store, typical, typical.returns[0]),
        )
        timed("evidence pack, typical case", 7, lambda: render_evidence_pack(session, store, typical))
        timed("evidence pack, 200 events 30 photos", 3, lambda: render_evidence_pack(session, store, large))
        session.rollback()
        market = load_case(session, "AS-BENCH01").market  # type: ignore[union-attr]
        for n in range(args.cases - 2):
            build_case(session, store, number=f"AS-B{n:06d}", photos=2, market=market)
            if n % 50 == 0:
                session.commit()
        session.commit()
        session.close()
        out = Path(tempfile.mkdtemp(prefix="pdf-export-")) / "export.zip"
        checkpoints: list[tuple[int, float]] = []

        def progress(done: int, total: int) -> None:
            if done and done % max(1, total // 5) == 0:
                checkpoints.append((done, _rss_mb()))

        start = time.perf_counter()
        summary = write_export(app, sessions, ExportFilter(), out, progress)
        elapsed = time.perf_counter() - start
        print(
            f"export of {summary['cases']} cases: {elapsed:.1f} s ({elapsed / summary['cases']:.2f} s "
            "per case), "
            f"{summary['bytes'] / 1e6:.1f} MB ZIP, {summary['failed']} failed; "
            f"{render_threads(app)} packs at a time (target < 240 s)"
        )
        print(
            "  process peak memory while exporting: "
            + ", ".join(f"after {done}: {mb:.0f} MB" for done, mb in checkpoints)
        )


if __name__ == "__main__":
    main()

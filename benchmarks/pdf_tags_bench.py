"""What tagging costs: return instructions and evidence packs as tagged PDF/UA against the untagged baseline.

Run by hand: `python benchmarks/pdf_tags_bench.py [--runs 7]`. Renders each document both ways in the same
run, alternating so that both see the same warm renderer, and prints the medians, the ratio tagged /
untagged and the file sizes. The baseline is what the portal rendered before: PDF/A-3b packs, plain
instructions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flask_babel import force_locale  # noqa: E402
from test_documents_data import build_case, sqlite_app  # noqa: E402

from portal.documents import render  # noqa: E402
from portal.documents.evidence import render_evidence_pack  # noqa: E402
from portal.documents.instructions import render_return_instructions  # noqa: E402

UNTAGGED: dict[str, dict[str, Any]] = {"INSTRUCTIONS_PDF": {}, "PACK_PDF": {"variant": "pdf/a-3b"}}
TAGGED: dict[str, dict[str, Any]] = {"INSTRUCTIONS_PDF": render.INSTRUCTIONS_PDF, "PACK_PDF": render.PACK_PDF}


def compare(label: str, runs: int, action: Callable[[], bytes]) -> None:
    times: dict[str, list[float]] = {"untagged": [], "tagged": []}
    sizes: dict[str, int] = {}
    for _ in range(runs):
        for name, options in (("untagged", UNTAGGED), ("tagged", TAGGED)):
            for attribute, value in options.items():
                setattr(render, attribute, value)
            start = time.perf_counter()
            sizes[name] = len(action())
            times[name].append(time.perf_counter() - start)
    before, after = statistics.median(times["untagged"]), statistics.median(times["tagged"])
    print(
        f"{label:<36} untagged {before:6.3f} s  tagged {after:6.3f} s  ratio {after / before:4.2f}  "
        f"(n={runs}; {sizes['untagged'] / 1e3:.0f} kB -> {sizes['tagged'] / 1e3:.0f} kB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    app = sqlite_app(Path(tempfile.mkdtemp(prefix="pdf-tags-bench-")))
    store = app.extensions["attachments"]
    with app.app_context(), force_locale("en"):
        session = app.extensions["database"].session()
        typical = build_case(session, store, number="AS-BENCH01", language="de", cross_border=True)
        large = build_case(session, store, number="AS-BENCH02", events=200, photos=30)
        session.commit()
        render_return_instructions(session, store, typical, typical.returns[0])  # starts the renderer
        compare("return instructions", args.runs,
                lambda: render_return_instructions(session, store, typical, typical.returns[0]))
        compare("evidence pack, typical case", args.runs,
                lambda: render_evidence_pack(session, store, typical).pdf)
        compare("evidence pack, 200 events 30 photos", max(2, args.runs // 3),
                lambda: render_evidence_pack(session, store, large).pdf)
        session.rollback()
        session.close()


if __name__ == "__main__":
    main()

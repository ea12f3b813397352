"""Evidence-pack time for hostile note text: 4,000 unbroken characters, RTL text and zero-width text.

Run by hand: `python benchmarks/pack_text_bench.py [--only long|rtl|zero-width]`. Prints the render time
of one evidence pack per kind of note. Target: every pack renders in a few seconds whatever the text.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flask_babel import force_locale  # noqa: E402
from test_documents_data import build_case, sqlite_app  # noqa: E402

from portal.documents.evidence import render_evidence_pack  # noqa: E402
from portal.documents.render import pool_for  # noqa: E402
from portal.domain import operations as ops  # noqa: E402
from portal.domain.lifecycle import Actor  # noqa: E402

NOTES = {
    "long": "x" * 4000,
    "rtl": "\u202e" + "\u05e9\u05dc\u05d5\u05dd" * 700,
    "zero-width": "a\u200b" * 1400,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=sorted(NOTES), action="append")
    args = parser.parse_args()
    app = sqlite_app(Path(tempfile.mkdtemp(prefix="pack-text-bench-")))
    store = app.extensions["attachments"]
    with app.app_context(), force_locale("en"):
        session = app.extensions["database"].session()
        pool_for(1536)
        for n, (name, text) in enumerate(NOTES.items()):
            if args.only and name not in args.only:
                continue
            case = build_case(session, store, number=f"AS-TXT{n:03d}", photos=1)
            ops.add_note(session, case, Actor.system("bench@example.test"), text)
            session.commit()
            start = time.perf_counter()
            render_evidence_pack(session, store, case)
            elapsed = time.perf_counter() - start
            session.rollback()
            print(f"evidence pack, {name} note ({len(text):,} characters): {elapsed:6.2f} s", flush=True)


if __name__ == "__main__":
    main()

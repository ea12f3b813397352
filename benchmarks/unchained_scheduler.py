"""Formerly a scheduler whose audit entries skipped the hash chain's global lock (benchmark use only).

The audit log no longer has that lock (issue 15: writers only append, and a sequencer places entries in a
signed Merkle tree), so `deadline_bench.py --audit unchained` now runs the ordinary scheduler and its
figures match `--audit chained`. Kept so that the benchmark's options still work.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app  # noqa: E402
from portal.scheduler import run_scheduler  # noqa: E402

if __name__ == "__main__":
    run_scheduler(create_app())

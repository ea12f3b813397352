"""Gunicorn settings for the portal: JSON logs, crash dumps in workers, and metrics shared by workers.

Gunicorn reads this file by itself when started from the project folder (`gunicorn 'wsgi:app'`).
"""

from __future__ import annotations

import atexit
import faulthandler
import os
import shutil
import tempfile
from typing import Any

# Request metrics from every worker are written here and summed by whichever worker is scraped. It must
# be set before prometheus_client is imported (importing anything from `portal` does), so here first.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _metrics_dir = tempfile.mkdtemp(prefix="portal-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
    _master = os.getpid()

    def _remove_metrics_dir() -> None:
        if os.getpid() == _master:  # workers are forks of the master and run this too on their way out
            shutil.rmtree(_metrics_dir, ignore_errors=True)

    atexit.register(_remove_metrics_dir)

from portal.observability.logs import gunicorn_logconfig  # noqa: E402  (after PROMETHEUS_MULTIPROC_DIR)

logconfig_dict = gunicorn_logconfig("web")
# One structured line per request comes from the app itself (with its request id), not gunicorn.
accesslog = None


def post_fork(server: Any, worker: Any) -> None:
    faulthandler.enable(all_threads=True)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

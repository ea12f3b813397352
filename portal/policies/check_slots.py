"""Bounds on policy checks in the editor: a few at once per user, a time budget, stop when the client left."""

from __future__ import annotations

import fcntl
import os
import select
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import current_app, g, has_request_context, request
from flask_babel import gettext as _
from flask_login import current_user

from portal.errors import error_page
from rules.budget import UNBOUNDED, Budget


class NoCheckSlot(Exception):
    """The user already has as many checks running as allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} checks already running")
        self.limit = limit


@contextmanager
def check_slot(user_id: int) -> Iterator[None]:
    """Hold one of the user's check slots for the block, or raise NoCheckSlot.

    A slot is an advisory lock on a file in the instance folder, so every worker process on the host
    sees it, and the kernel frees it when a process dies mid-check.
    """
    limit = int(current_app.config["POLICY_CHECKS_PER_USER"])
    folder = Path(current_app.instance_path) / "locks" / "policy-checks"
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(limit):
        fd = os.open(folder / f"{user_id}-{slot}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    raise NoCheckSlot(limit)


def client_gone(sock: Any) -> bool:
    """Whether the peer closed the connection: readable with nothing to read means end of stream."""
    if not isinstance(sock, socket.socket) or sock.fileno() < 0:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def request_budget() -> Budget:
    """The budget of checks in this request: shared by every check it runs, cancelled if the client left."""
    if not has_request_context():
        return UNBOUNDED
    budget: Budget | None = g.get("policy_check_budget")
    if budget is None:
        sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
        budget = Budget(
            float(current_app.config["POLICY_CHECK_SECONDS"]), cancelled=lambda: client_gone(sock)
        )
        g.policy_check_budget = budget
    return budget


F = TypeVar("F", bound=Callable[..., Any])


def bounded_checks(view: F) -> F:
    """Run the view in one of the user's check slots; with none free, answer 429 with a sentence."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with check_slot(current_user.id):
                return view(*args, **kwargs)
        except NoCheckSlot as busy:
            message = _(
                "You already have %(count)s policy checks running (in other tabs or windows). "
                "Wait for them to finish, then try again.",
                count=busy.limit,
            )
            body, status = error_page(429, message)
            return body, status, {"Retry-After": "5"}

    return cast(F, wrapper)

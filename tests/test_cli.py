"""The command line: migrations, users, and the scheduler process that fires deadlines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import make_test_app
from support.factories import make_case, shop_with_market

from portal.domain.enums import DeadlineKind, DeadlineState, Role
from portal.domain.models import Deadline, User
from portal.domain.types import utcnow

ROOT = Path(__file__).resolve().parent.parent


def test_users_create(app: Flask, db: Session) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--email",
            "Li@Example.test",
            "--name",
            "Li",
            "--role",
            "ops_manager",
            "--password",
            "long-enough-1",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.scalar(select(User).where(User.email == "li@example.test"))
    assert user is not None and user.role == Role.OPS_MANAGER and user.password_hash.startswith("$argon2")


def test_users_create_refuses_bad_input(app: Flask, db: Session) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "a@example.test",
            "--role",
            "admin",
            "--password",
            "long-enough-1",
        ]
    )
    again = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "a@example.test",
            "--role",
            "admin",
            "--password",
            "long-enough-1",
        ]
    )
    short = runner.invoke(
        args=["users", "create", "--email", "b@example.test", "--role", "admin", "--password", "short"]
    )
    assert first.exit_code == 0
    assert again.exit_code == 1 and "already exists" in again.output
    assert short.exit_code == 1 and "at least 8" in short.output


def test_db_upgrade_on_a_new_database(tmp_path: Path) -> None:
    app = make_test_app(f"sqlite:///{tmp_path / 'new.db'}", tmp_path)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "Database is at head." in result.output
    refused = (
        make_test_app(f"sqlite:///{tmp_path / 'other.db'}", tmp_path)
        .test_cli_runner()
        .invoke(args=["scheduler", "run"])
    )
    assert refused.exit_code == 1 and "no schema yet" in refused.output


def test_scheduler_process_fires_due_deadlines_and_stops_cleanly(
    app: Flask, db: Session, database_url: str, tmp_path: Path
) -> None:
    _shop, market = shop_with_market(db)
    case = make_case(db, market)
    db.add(
        Deadline(
            case_id=case.id,
            name="seller_response",
            kind=DeadlineKind.PLATFORM,
            due_at=utcnow() - timedelta(seconds=1),
        )
    )
    db.commit()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SCHEDULER_INTERVAL_SECONDS": "0.2",
        "SECRET_KEY": "test",
        "ATTACHMENTS_DIR": str(tmp_path / "att"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        fired = False
        while time.monotonic() < deadline and not fired:
            time.sleep(0.3)
            db.expire_all()
            fired = db.scalar(select(Deadline.state)) == DeadlineState.FIRED
        assert fired
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "stopped" in output

"""Command-line tools: `flask --app wsgi db|users|demo|scheduler|serve ...`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import inspect

from portal import migrate
from portal.db import get_db

db_cli = AppGroup("db", help="Create and change the database schema (Alembic).")
users_cli = AppGroup("users", help="Manage portal users.")
demo_cli = AppGroup("demo", help="Demo data.")
scheduler_cli = AppGroup("scheduler", help="The deadline scheduler process.")
worker_cli = AppGroup("worker", help="Background job workers (imports, exports, simulations).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    migrate.upgrade(get_db().url, revision)
    click.echo(f"Database is at {revision}.")


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Undo migrations down to REVISION (default: one step; 'base' removes everything)."""
    migrate.downgrade(get_db().url, revision)
    click.echo(f"Database downgraded to {revision}.")


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the change does.")
def db_revision(message: str) -> None:
    """Write a new revision from the difference between the models and the database."""
    from alembic import command

    command.revision(migrate.alembic_config(get_db().url), message=message, autogenerate=True)


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", required=True, type=click.Choice(["ops_manager", "cs_agent", "auditor", "admin"]))
@click.password_option(help="Asked for when not given.")
def users_create(email: str, name: str, role: str, password: str) -> None:
    """Create a user who can sign in."""
    from portal.domain.users import UserError, create_user

    session = get_db().session()
    try:
        user = create_user(session, email, name, role, password)
        session.commit()
    except UserError as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    finally:
        session.close()
    click.echo(f"Created {user.role.value} {user.email}.")


@users_cli.command("sign-out")
@click.argument("email")
@click.option("--reset-second-factor", is_flag=True,
              help="Also turn off two-step sign-in (for someone who lost phone and recovery codes).")
def users_sign_out(email: str, reset_second_factor: bool) -> None:
    """End every session of a user at once (and, if asked, reset their two-step sign-in)."""
    from portal.domain.users import UserError, find_by_email, sign_out_everywhere
    from portal.domain.users import reset_second_factor as reset

    session = get_db().session()
    try:
        user = find_by_email(session, email)
        ended = sign_out_everywhere(session, user, actor=None)
        if reset_second_factor:
            reset(session, user, actor=None)
        session.commit()
    except UserError as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    finally:
        session.close()
    click.echo(f"Signed {user.email} out everywhere ({ended} sessions ended)"
               + ("; two-step sign-in is reset." if reset_second_factor else "."))


@demo_cli.command("seed")
@click.option("--scale", default=1.0, show_default=True, help="Multiply the demo's size.")
def demo_seed(scale: float) -> None:
    """Load the demo shop (does nothing when it is already there)."""
    from portal.demo.seed import is_seeded, seed_demo

    _require_schema()
    session = get_db().session()
    try:
        if is_seeded(session):
            click.echo("Demo data is already loaded.")
        else:
            click.echo("Loading demo data (about half a minute)...")
            counts = seed_demo(session, current_app.extensions["attachments"], scale=scale)
            session.commit()
            from portal.domain.analytics_build import refresh_dirty

            refresh_dirty(session)  # the dashboard's rollups of every seeded day
            click.echo("Loaded " + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + ".")
    finally:
        session.close()
    _print_demo_logins()


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the scheduler in the foreground until interrupted."""
    from portal.scheduler import run_scheduler

    _require_schema()
    run_scheduler(current_app._get_current_object())  # type: ignore[attr-defined]


@worker_cli.command("run")
@click.option("--idle-seconds", default=0.5, show_default=True, help="How often an idle worker looks.")
def worker_run(idle_seconds: float) -> None:
    """Run queued background jobs until interrupted; the first Ctrl-C or SIGTERM lets the current job
    finish, a second stops at once (the job is taken over by another worker when its lease runs out)."""
    import signal
    import threading

    from portal.jobs import work_loop
    from portal.observability import logs

    _require_schema()
    logs.configure("worker")
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        if stop.is_set():
            raise SystemExit(1)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ran = work_loop(current_app._get_current_object(), stop, idle_seconds)  # type: ignore[attr-defined]
    click.echo(f"Worker stopped after {ran} jobs.")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, envvar="PORT", show_default=True)
@click.option("--workers", default=2, show_default=True, help="Web worker processes.")
def serve(host: str, port: int, workers: int) -> None:
    """Start the web portal and the scheduler together; Ctrl-C stops both."""
    from portal.launcher import launch

    _require_schema()
    _print_demo_logins()
    raise SystemExit(launch(host, port, workers))


def _print_demo_logins() -> None:
    from portal.demo.seed import DEMO_PASSWORD, DEMO_USERS, is_seeded

    session = get_db().session()
    try:
        if not is_seeded(session):
            return
    finally:
        session.close()
    click.echo(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for email, name, role in DEMO_USERS:
        click.echo(f"  {role.value:<12} {email:<22} {name}")


def _require_schema() -> None:
    if not inspect(get_db().engine).has_table("alembic_version"):
        raise click.ClickException("The database has no schema yet: run `flask --app wsgi db upgrade` first.")


def register_cli(app: Flask) -> None:
    for group in (db_cli, users_cli, demo_cli, scheduler_cli, worker_cli):
        app.cli.add_command(group)
    from portal.api.cli import api_token_cli
    from portal.audit.cli import audit_cli
    from portal.documents.cli import pdf_cli

    app.cli.add_command(pdf_cli)
    app.cli.add_command(audit_cli)
    from portal.imports.cli import import_cli

    app.cli.add_command(import_cli)
    app.cli.add_command(api_token_cli)
    from portal.shops.cli import shops_cli

    app.cli.add_command(shops_cli)
    app.cli.add_command(serve)
    from portal.simulator.stream import demo_stream

    demo_cli.add_command(demo_stream)

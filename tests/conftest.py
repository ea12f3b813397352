"""Fixtures: the app on SQLite and on PostgreSQL, clients signed in per role, a live server and Chromium."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from portal import create_app, migrate
from portal.db import get_db
from portal.domain.enums import Role
from portal.domain.models import Base, User
from portal.domain.users import hash_password
from support.postgres import PostgresCluster

BACKENDS = ["sqlite", "postgresql"]
PASSWORD = "correct-horse-42"
ROLE_EMAILS = {
    Role.OPS_MANAGER: "ops@example.test",
    Role.CS_AGENT: "agent@example.test",
    Role.AUDITOR: "auditor@example.test",
    Role.ADMIN: "admin@example.test",
}
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres: PostgresCluster) -> str:
    url = postgres.create_database("portal_test")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


def _truncate_all(url: str) -> None:
    from portal.db import make_engine

    engine = make_engine(url)
    names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a fresh SQLite copy, or the PostgreSQL test database emptied."""
    if request.param == "sqlite":
        path = tmp_path / "portal.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    _truncate_all(url)
    return url


def make_test_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    return create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "ATTACHMENTS_DIR": str(tmp_path / "attachments"),
        "SCHEDULER_INTERVAL_SECONDS": 0.2,
        **overrides,
    })


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = make_test_app(database_url, tmp_path)
    yield application
    get_db_engine(application).dispose()


def get_db_engine(application: Flask) -> Any:
    return application.extensions["database"].engine


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session for arranging and inspecting data outside requests."""
    with app.app_context():
        session = get_db().session()
        yield session
        session.close()


@pytest.fixture
def users(db: Session, password_hash: str) -> dict[Role, User]:
    """One active user per role, all with the password PASSWORD."""
    people = {role: User(email=email, name=role.value.replace("_", " ").title(), role=role,
                         password_hash=password_hash) for role, email in ROLE_EMAILS.items()}
    db.add_all(people.values())
    db.commit()
    return people


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(client: FlaskClient, url: str = "/login") -> str:
    """The CSRF token a page hands its forms, read the way a browser would."""
    html = client.get(url).get_data(as_text=True)
    match = CSRF_INPUT.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)})


@pytest.fixture
def login(app: Flask, users: dict[Role, User]) -> Callable[[Role], FlaskClient]:
    """A new client signed in with the given role."""

    def _login(role: Role) -> FlaskClient:
        new_client = app.test_client()
        response = sign_in(new_client, users[role].email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return new_client

    return _login

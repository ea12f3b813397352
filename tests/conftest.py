"""Fixtures: the app on SQLite and on PostgreSQL, clients signed in per role, a live server and Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from support.app import PASSWORD, ROLE_EMAILS, make_test_app, sign_in
from support.postgres import PostgresCluster
from support.s3 import s3_server

from portal import migrate
from portal.domain import users as user_service
from portal.domain.enums import Role
from portal.domain.models import Base, User
from portal.domain.users import hash_password

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> None:
    """Argon2 at full cost makes every sign-in take a tenth of a second; tests need correctness only."""
    user_service.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible object store for the whole session (credentials in the environment)."""
    with s3_server() as endpoint:
        yield endpoint


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


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = make_test_app(database_url, tmp_path)
    yield application
    get_db_engine(application).dispose()


def get_db_engine(application: Flask) -> Any:
    return application.extensions["database"].engine


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session for arranging and inspecting data outside requests.

    No app context stays pushed: requests must each get their own, as they do in production.
    """
    session = app.extensions["database"].session()
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


@pytest.fixture
def login(app: Flask, users: dict[Role, User]) -> Callable[[Role], FlaskClient]:
    """A new client signed in with the given role."""

    def _login(role: Role) -> FlaskClient:
        new_client = app.test_client()
        response = sign_in(new_client, users[role].email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return new_client

    return _login

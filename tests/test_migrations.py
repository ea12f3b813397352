"""Alembic is the only source of the schema: it matches the models and can go down and up again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from support.postgres import PostgresCluster

from portal import migrate
from portal.db import make_engine
from portal.domain.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database("migrations_check")


def _differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_migrations_and_models_agree(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    assert _differences(empty_url) == []


def test_downgrade_to_base_and_upgrade_again(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    migrate.downgrade(empty_url, "base")
    engine = make_engine(empty_url)
    try:
        remaining = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()
    finally:
        engine.dispose()
    migrate.upgrade(empty_url)
    assert _differences(empty_url) == []


def test_audit_log_refuses_changes_in_the_database(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO audit_log (occurred_at, actor_label, action, entity_type, entity_id, details, "
                "prev_hash, hash) VALUES (CURRENT_TIMESTAMP, 'x', 'a', 'e', '1', '{}', 'p', 'h')"))
        for statement in ("UPDATE audit_log SET action = 'changed'", "DELETE FROM audit_log"):
            with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT action FROM audit_log")).scalar() == "a"
    finally:
        engine.dispose()

"""The harness itself: both databases are real and migrated."""

from sqlalchemy import text
from sqlalchemy.orm import Session


def test_database_is_migrated(db: Session, database_url: str) -> None:
    assert db.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    assert db.get_bind().dialect.name == backend

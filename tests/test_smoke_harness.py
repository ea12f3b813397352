"""The harness itself: both databases are real and migrated to the newest revision."""

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.orm import Session

from portal.migrate import alembic_config


def test_database_is_migrated_to_head(db: Session, database_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert db.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    assert db.get_bind().dialect.name == backend

"""Helpers for audit log tests: sequence with the app's key, verify, and tamper like an insider would."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from portal.audit.keys import public_key, signer
from portal.domain.audit_signing import Checkpoint, problem_text
from portal.domain.audit_tree import LogReport, SequenceResult, sequence, verify_log

AUDIT_TABLES = ("audit_log", "audit_tree_leaves", "audit_tree_nodes", "audit_checkpoints")


def sequence_all(app: Flask) -> SequenceResult:
    return sequence(app.extensions["database"].sessionmaker, signer(app.config))


def verify(app: Flask, also: Sequence[Checkpoint] = ()) -> LogReport:
    with app.extensions["database"].session() as session:
        return verify_log(session, public_key(app.config), also)


def problems(report: LogReport) -> str:
    return "\n".join(problem_text(p) for p in report.problems)


@contextmanager
def unguarded(db: Session) -> Iterator[Connection]:
    """A connection of someone with direct database access who first switches off every guard.

    PostgreSQL: `session_replication_role = replica` skips triggers and foreign keys (superuser only).
    SQLite: the guard triggers are dropped and foreign keys are switched off for the connection.
    """
    db.rollback()
    engine = db.get_bind()
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET session_replication_role = replica")
        else:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for table in AUDIT_TABLES:
                for kind in ("update", "delete", "replace"):
                    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{kind}")
        yield conn
        conn.commit()
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET session_replication_role = DEFAULT")
            conn.commit()

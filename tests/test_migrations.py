"""Alembic is the only source of the schema: it matches the models and can go down and up again."""

from __future__ import annotations

from decimal import Decimal
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
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO audit_log (id, occurred_at, actor_label, action, entity_type, entity_id, "
                "details) "
                "VALUES (1, CURRENT_TIMESTAMP, 'x', 'a', 'e', '1', '{}')"))
            conn.execute(text(
                "INSERT INTO audit_tree_leaves (position, entry_id, leaf_hash) VALUES (0, 1, 'h')"))
            conn.execute(text("INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (1, 0, 'n')"))
            conn.execute(text(
                "INSERT INTO audit_checkpoints (tree_size, root_hash, signed_at, key_id, signature, "
                "consistency) "
                "VALUES (1, 'r', CURRENT_TIMESTAMP, 'k', 's', '[]')"))
        replace = "INSERT OR REPLACE INTO" if sqlite else "INSERT INTO"
        upsert = "" if sqlite else " ON CONFLICT (id) DO UPDATE SET action = 'replaced'"
        statements = [
            "UPDATE audit_log SET action = 'changed'",
            "DELETE FROM audit_log",
            # INSERT OR REPLACE deletes the old row without firing delete triggers; it is refused too.
            f"{replace} audit_log (id, occurred_at, actor_label, action, entity_type, entity_id, details) "
            f"VALUES (1, CURRENT_TIMESTAMP, 'x', 'replaced', 'e', '1', '{{}}'){upsert}",
            "UPDATE audit_tree_leaves SET leaf_hash = 'x'",
            "DELETE FROM audit_tree_leaves",
            "UPDATE audit_tree_nodes SET hash = 'x'",
            "DELETE FROM audit_tree_nodes",
            "UPDATE audit_checkpoints SET root_hash = 'x'",
            "DELETE FROM audit_checkpoints",
        ]
        if sqlite:
            statements += [
                "REPLACE INTO audit_tree_leaves (position, entry_id, leaf_hash) VALUES (0, 1, 'x')",
                "INSERT OR REPLACE INTO audit_tree_nodes (level, idx, hash) VALUES (1, 0, 'x')",
                "INSERT OR REPLACE INTO audit_checkpoints (tree_size, root_hash, signed_at, key_id, "
                "signature, "
                "consistency) VALUES (1, 'x', CURRENT_TIMESTAMP, 'k', 's', '[]')",
            ]
        else:
            statements += ["INSERT INTO audit_tree_leaves (position, entry_id, leaf_hash) VALUES (0, 1, 'x') "
                           "ON CONFLICT (position) DO UPDATE SET leaf_hash = 'x'"]
        for statement in statements:
            with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT action FROM audit_log")).scalar() == "a"
            assert conn.execute(text("SELECT leaf_hash FROM audit_tree_leaves")).scalar() == "h"
            assert conn.execute(text("SELECT hash FROM audit_tree_nodes")).scalar() == "n"
            assert conn.execute(text("SELECT root_hash FROM audit_checkpoints")).scalar() == "r"
    finally:
        engine.dispose()


def test_existing_entries_migrate_into_the_signed_tree(empty_url: str, tmp_path: Path) -> None:
    """A chained log from before 0011 is queued in its order, sequenced, signed and verifies."""
    migrate.upgrade(empty_url, "0009")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            for i in range(5):
                conn.execute(text(
                    "INSERT INTO audit_log (occurred_at, actor_label, action, entity_type, entity_id, "
                    "details, "
                    "prev_hash, hash) VALUES (CURRENT_TIMESTAMP, 'x', 'old.entry', 'case', :i, '{\"n\": 1}', "
                    ":p, :h)"), {"i": str(i), "p": f"p{i}", "h": f"h{i}"})
    finally:
        engine.dispose()
    migrate.upgrade(empty_url)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy.orm import sessionmaker

    from portal.domain.audit_signing import Signer
    from portal.domain.audit_tree import sequence, verify_log

    engine = make_engine(empty_url)
    try:
        factory = sessionmaker(engine)
        key = Signer(Ed25519PrivateKey.generate())
        result = sequence(factory, key)
        assert result.sequenced == 5 and result.checkpoint is not None and result.checkpoint.tree_size == 5
        with engine.connect() as conn:
            placed = conn.execute(
                text("SELECT entry_id FROM audit_tree_leaves ORDER BY position")
            ).scalars().all()
            ids = conn.execute(text("SELECT id FROM audit_log ORDER BY id")).scalars().all()
        assert placed == ids
        with factory() as session:
            report = verify_log(session, key.public_key)
        assert report.ok and report.entries == 5
    finally:
        engine.dispose()
    migrate.downgrade(empty_url, "0009")  # and back to the chain, recomputed
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT prev_hash, hash FROM audit_log ORDER BY id")).all()
        assert rows[0][0] == "0" * 64 and all(rows[i][0] == rows[i - 1][1] for i in range(1, 5))
    finally:
        engine.dispose()


def test_dekad_rollups_are_filled_from_the_daily_ones(empty_url: str) -> None:
    """0026 sums the daily rows already there into their dekads (1-10, 11-20, 21 to the month's end)."""
    migrate.upgrade(empty_url, "0025")
    counts = ", ".join(
        ("orders", "cases", "auto_cases", "deadlines", "deadlines_missed", "disputes_opened", "disputes_won",
         "disputes_lost", "shipments", "exceptions", "cases_refunded", "cases_missed", "cases_disputed",
         "targets", "targets_missed")
    )
    money = "revenue, refund_full, refund_returnless, refund_partial, refund_coupon"
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            for day, orders, revenue in (
                ("2026-02-10", 1, "1.10"), ("2026-02-11", 2, "2.20"), ("2026-02-20", 3, "3.30"),
                ("2026-02-21", 4, "4.40"), ("2026-02-28", 5, "5.50"), ("2026-03-01", 6, "6.60"),
                ("2026-03-31", 7, "7.70"),
            ):
                conn.execute(text(
                    f"INSERT INTO analytics_daily (day, market_id, dim, key, currency, {counts}, {money}) "
                    f"VALUES (:day, 1, 'all', '', 'USD', :n, {', '.join(['0'] * 14)}, :r, 0, 0, 0, 0)"
                ), {"day": day, "n": orders, "r": revenue})
                conn.execute(text(
                    "INSERT INTO analytics_durations (day, market_id, metric, key, bucket, cases) "
                    "VALUES (:day, 1, 'resolution', '', 60, :n)"
                ), {"day": day, "n": orders})
    finally:
        engine.dispose()
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            sums = conn.execute(text(
                "SELECT dekad, orders, revenue FROM analytics_dekads ORDER BY dekad"
            )).all()
            histograms = conn.execute(text(
                "SELECT dekad, cases FROM analytics_durations_dekads ORDER BY dekad"
            )).all()
    finally:
        engine.dispose()
    expected = [("2026-02-01", 1, "1.10"), ("2026-02-11", 5, "5.50"), ("2026-02-21", 9, "9.90"),
                ("2026-03-01", 6, "6.60"), ("2026-03-21", 7, "7.70")]
    assert [(str(d), n, f"{Decimal(r):.2f}") for d, n, r in sums] == expected
    assert [(str(d), n) for d, n in histograms] == [(d, n) for d, n, _ in expected]


def test_two_step_secrets_get_a_sealed_column_and_lose_it_on_the_way_down(empty_url: str) -> None:
    """0027 adds users.totp_sealed and leaves plain secrets where they are (it has no key to seal them).
    Going back cannot decrypt either: a second factor whose secret is only sealed is turned off (as an
    admin's reset does), while a plain one from before keeps working."""
    migrate.upgrade(empty_url, "0026")
    engine = make_engine(empty_url)
    users = ("INSERT INTO users (id, email, name, password_hash, role, active, created_at, totp_secret, "
             "totp_enabled_at) VALUES (:id, :email, 'x', 'h', 'ops_manager', TRUE, CURRENT_TIMESTAMP, "
             ":secret, CURRENT_TIMESTAMP)")
    try:
        with engine.begin() as conn:
            conn.execute(text(users), {"id": 1, "email": "plain@example.test", "secret": "JBSWY3DPEHPK3PXP"})
            conn.execute(text(users), {"id": 2, "email": "sealed@example.test", "secret": None})
            for user in (1, 2):
                conn.execute(text("INSERT INTO recovery_codes (user_id, code_hash, created_at) "
                                  "VALUES (:u, :h, CURRENT_TIMESTAMP)"), {"u": user, "h": f"hash{user}"})
    finally:
        engine.dispose()
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text("SELECT totp_secret, totp_sealed FROM users WHERE id = 1")).one() == (
                "JBSWY3DPEHPK3PXP", None)
            conn.execute(text("UPDATE users SET totp_sealed = 'gAAAAAsealed' WHERE id = 2"))
    finally:
        engine.dispose()
    migrate.downgrade(empty_url, "0026")
    engine = make_engine(empty_url)
    try:
        assert "totp_sealed" not in {column["name"] for column in inspect(engine).get_columns("users")}
        with engine.connect() as conn:
            on = conn.execute(text("SELECT id FROM users WHERE totp_enabled_at IS NOT NULL")).scalars().all()
            codes = conn.execute(text("SELECT user_id FROM recovery_codes")).scalars().all()
        assert on == [1] and codes == [1]
    finally:
        engine.dispose()
    migrate.upgrade(empty_url)
    assert _differences(empty_url) == []

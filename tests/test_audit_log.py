"""The audit log is a hash chain: appends link to the row before, and any change is detected."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from support.app import csrf_token

from portal.domain import audit
from portal.domain.enums import Role
from portal.domain.models import AuditEntry


def _append(db: Session, n: int) -> list[AuditEntry]:
    entries = [
        audit.record(db, "case.updated", "case", i, {"amount": Decimal("12.50"), "note": "退款 ok"})
        for i in range(n)
    ]
    db.commit()
    return entries


def test_entries_link_to_their_predecessor(db: Session) -> None:
    entries = _append(db, 3)
    assert entries[0].prev_hash == audit.GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    assert entries[0].details == {"amount": "12.50", "note": "退款 ok"}
    assert audit.verify_chain(db) == audit.ChainReport(ok=True, checked=3)


def _tamper(db: Session, statement: str) -> None:
    """Simulate someone with direct database access who first removes the guard triggers."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change"))
    else:
        db.execute(text("DROP TRIGGER audit_log_no_update"))
        db.execute(text("DROP TRIGGER audit_log_no_delete"))
    db.execute(text(statement))
    db.commit()
    db.expire_all()


def test_a_changed_entry_is_detected(db: Session) -> None:
    entries = _append(db, 4)
    _tamper(db, f"UPDATE audit_log SET entity_id = '99' WHERE id = {entries[2].id}")
    report = audit.verify_chain(db)
    assert not report.ok and report.first_bad_id == entries[2].id and report.problem == "content"
    assert report.checked == 2


def test_a_removed_entry_is_detected(db: Session) -> None:
    entries = _append(db, 4)
    _tamper(db, f"DELETE FROM audit_log WHERE id = {entries[1].id}")
    report = audit.verify_chain(db)
    assert not report.ok and report.first_bad_id == entries[2].id and report.problem == "link"


def test_auditor_verifies_the_chain_in_the_portal(login: Callable[[Role], FlaskClient], db: Session) -> None:
    _append(db, 2)
    auditor = login(Role.AUDITOR)
    html = auditor.post("/audit/verify", data={"csrf_token": csrf_token(auditor, "/audit")}).get_data(
        as_text=True
    )
    # Two appended here, plus the auditor's own sign-in.
    assert "The chain is intact: 3 entries checked" in html


def test_audit_page_lists_and_filters_entries(login: Callable[[Role], FlaskClient], db: Session) -> None:
    audit.record(db, "policy.published", "policy", 7, {"comment": "<script>alert(1)</script>"})
    audit.record(db, "case.updated", "case", 8, {})
    db.commit()
    auditor = login(Role.AUDITOR)
    html = auditor.get("/audit?action=policy.").get_data(as_text=True)
    assert "policy.published" in html and "case.updated" not in html
    assert "<script>alert(1)</script>" not in html  # escaped
    fragment = auditor.get("/audit?entity=case:8", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="audit-rows">') and "case.updated" in body
    assert "HX-Request" in fragment.headers["Vary"]

"""The demo shop's history reads as the portal writes it: every timeline line has its audit entry, and
some cases are overdue when the demo opens."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portal.db import make_engine
from portal.demo.seed import seed_demo
from portal.domain.attachments import AttachmentStore
from portal.domain.audit_signing import Signer
from portal.domain.audit_tree import sequence, verify_log
from portal.domain.enums import OPEN_STATUSES, CaseType, DeadlineKind, DeadlineState
from portal.domain.models import AuditEntry, Base, Case, CaseEvent
from portal.domain.queue import CaseFilter, case_query, count_cases

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    directory: Path = tmp_path_factory.mktemp("demo-history")
    engine = make_engine(f"sqlite:///{directory / 'demo.sqlite'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        seed_demo(session, AttachmentStore(directory / "attachments"), scale=0.3, now=NOW)
        session.commit()
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_every_disputed_case_has_its_audit_trail(demo: Session) -> None:
    disputes = demo.scalars(select(Case).where(Case.type == CaseType.DISPUTE)).all()
    assert disputes
    audited = Counter(demo.scalars(select(AuditEntry.entity_id).where(AuditEntry.entity_type == "case")))
    for case in disputes:
        assert audited[case.number] == len(case.events) > 0, case.number


def test_audit_entries_say_what_the_timeline_says(demo: Session) -> None:
    case = demo.scalars(select(Case).where(Case.type == CaseType.DISPUTE)).first()
    assert case is not None
    entries = demo.scalars(
        select(AuditEntry).where(AuditEntry.entity_type == "case", AuditEntry.entity_id == case.number)
        .order_by(AuditEntry.id)
    ).all()
    timeline = sorted(case.events, key=lambda e: (e.occurred_at, e.id))
    assert [e.action for e in entries] == [f"case.{e.kind}" for e in timeline]
    assert [e.occurred_at for e in entries] == [e.occurred_at for e in timeline]
    assert [e.actor_id for e in entries] == [e.actor_id for e in timeline]
    assert [e.details for e in entries] == [{"kind": e.kind, **e.data} for e in timeline]


def test_the_history_sequences_into_a_valid_signed_log(demo: Session) -> None:
    key = Signer(Ed25519PrivateKey.generate())
    bind = demo.get_bind()
    total = len(demo.scalars(select(AuditEntry.id)).all())
    assert total > len(demo.scalars(select(CaseEvent.id)).all())
    assert sequence(sessionmaker(bind), key).sequenced == total
    assert verify_log(demo, key.public_key).ok


def test_the_demo_opens_with_overdue_cases(demo: Session) -> None:
    overdue = CaseFilter(view="overdue", now=NOW)
    assert count_cases(demo, overdue) >= 3
    for case in demo.scalars(case_query(overdue)):
        ran_out = any(
            d.kind == DeadlineKind.PLATFORM and d.state == DeadlineState.FIRED for d in case.deadlines
        )
        assert case.status in OPEN_STATUSES
        assert (case.next_deadline_at is not None and case.next_deadline_at < NOW) or ran_out

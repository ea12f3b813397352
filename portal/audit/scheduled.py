"""The scheduler keeps the audit log sequenced: pending entries get positions and a signed checkpoint."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.audit.keys import signer
from portal.domain.audit_tree import sequence
from portal.scheduler import periodic

# Each run sequences for at most this long, so one busy run never holds up the scheduler's other work.
RUN_SECONDS = 20.0


@periodic("audit sequencer", seconds=1)
def sequence_audit_log(app: Flask, factory: sessionmaker[Session]) -> int:
    return sequence(factory, signer(app.config), max_seconds=RUN_SECONDS).sequenced

"""Sending queued buyer messages through a pluggable channel, each message once."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from portal.domain.enums import MessageDirection, MessageStatus
from portal.domain.models import CaseEvent, Message
from portal.domain.types import utcnow

MAX_ATTEMPTS = 5


class Channel(Protocol):
    name: str

    def send(self, session: Session, message: Message) -> None:
        """Deliver the message or raise; called inside the transaction that marks it sent."""


class CaseRecordChannel:
    """The default channel: the message is kept on the case as sent (no marketplace connection yet)."""

    name = "case_record"

    def send(self, session: Session, message: Message) -> None:
        session.add(
            CaseEvent(
                case_id=message.case_id,
                kind="message_sent",
                actor_label="outbox",
                data={"message_id": message.id, "channel": self.name},
            )
        )


CHANNELS: dict[str, Channel] = {"case_record": CaseRecordChannel()}


def dispatch(
    factory: sessionmaker[Session],
    channel: Channel | None = None,
    batch: int = 200,
    now: datetime | None = None,
) -> int:
    """Send what is queued; a conditional update claims each message so no two dispatchers send it."""
    channel = channel or CHANNELS["case_record"]
    sent = 0
    with factory() as session:
        ids = list(
            session.scalars(
                select(Message.id)
                .where(Message.status == MessageStatus.QUEUED, Message.direction == MessageDirection.OUTBOUND)
                .order_by(Message.created_at)
                .limit(batch)
            )
        )
    for message_id in ids:
        with factory() as session:
            claimed = session.execute(
                update(Message)
                .where(Message.id == message_id, Message.status == MessageStatus.QUEUED)
                .values(
                    status=MessageStatus.SENT,
                    sent_at=now or utcnow(),
                    channel=channel.name,
                    attempts=Message.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed != 1:
                continue
            message = session.get(Message, message_id)
            try:
                channel.send(session, message)
                session.commit()
                sent += 1
            except Exception as error:
                session.rollback()
                _failed(session, message_id, str(error))
    return sent


def _failed(session: Session, message_id: int, error: str) -> None:
    message = session.get(Message, message_id)
    if message is None:
        return
    message.attempts += 1
    message.last_error = error[-2000:]
    if message.attempts >= MAX_ATTEMPTS:
        message.status = MessageStatus.FAILED
    session.commit()

"""One demo case played forward: its clock, and the rows each step writes (events, messages, deadlines)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from portal.demo import replies
from portal.demo.case_plan import Plan
from portal.demo.catalog_data import MarketSpec
from portal.demo.orders import OrderRecord
from portal.demo.texts import BUYER_REPLIES
from portal.demo.world import World
from portal.domain import operations
from portal.domain.conversations import templates
from portal.domain.enums import (
    EVIDENCE_ORIGIN,
    OPEN_STATUSES,
    CaseStatus,
    DeadlineKind,
    DeadlineState,
    EvidenceKind,
    EvidenceSource,
    MessageDirection,
    MessageStatus,
)
from portal.domain.models import (
    Case,
    Deadline,
    Decision,
    Dispute,
    EvidenceItem,
    Exchange,
    Inspection,
    Message,
    OrderItem,
    Refund,
    ReturnShipment,
    User,
)

Actor = str | User
# Reasons that make the shop at fault (it pays the return postage), as the portal's operations see them.
SELLER_FAULT = frozenset(operations.SELLER_FAULT)
# Deadlines that ran out this recently are left pending, as if the scheduler had not swept them yet.
OVERDUE_WINDOW = timedelta(hours=12)


def agent_for(world: World, queue: str) -> User | None:
    rng, users = world.rng, world.users
    if queue in ("senior", "disputes"):
        return users.get("senior@demo.test")
    if queue == "jewelry":
        return users.get("agent@demo.test" if rng.random() < 0.7 else "senior@demo.test")
    if queue in ("logistics", "qc"):
        return users.get("agent2@demo.test")
    return users.get(rng.choice(["agent@demo.test", "agent2@demo.test"]))


@dataclass
class Ctx:
    world: World
    plan: Plan
    record: OrderRecord
    case: Case
    spec: MarketSpec
    lines: list[tuple[OrderItem, int]]
    times: list[datetime]
    index: int = 0
    agent: User | None = None
    last: datetime | None = None
    ret: ReturnShipment | None = None
    refund: Refund | None = None
    dispute: Dispute | None = None
    exchange: Exchange | None = None
    inspection: Inspection | None = None
    asked: str | None = None
    # Actions the policy decided on opening; steps that carry them out are credited to "policy".
    policy_actions: set[str] = field(default_factory=set)
    policy_share: Any = None  # the argument of the policy's partial_refund, as JSON
    policy_label: str | None = None  # "policy v2 line 47 “easy returns”", as the portal labels it
    sent: set[str] = field(default_factory=set)  # templates already sent
    evidence_kinds: set[str] = field(default_factory=set)
    decision: Decision | None = None
    deadlines: dict[str, Deadline] = field(default_factory=dict)
    met: dict[str, datetime] = field(default_factory=dict)
    # Spells of waiting for the buyer, (from, until); until is None while the case still waits.
    pauses: list[list[datetime | None]] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)

    @property
    def t(self) -> datetime:
        return self.times[self.index]

    @property
    def lang(self) -> str:
        return self.case.buyer.language

    @property
    def main_item(self) -> OrderItem:
        return max(self.lines, key=lambda line: line[0].unit_price * line[1])[0]

    def actor_for(self, action: str) -> Actor:
        """Who carried out an action: the policy when it decided so on opening, else the agent."""
        if action in self.policy_actions and self.policy_label:
            return self.policy_label
        return self.take()

    def buyer_line(self, kind: str) -> str:
        return self.world.rng.choice(BUYER_REPLIES.get(self.lang, BUYER_REPLIES["en"])[kind])

    def step_time(self, name: str) -> datetime | None:
        """When a later step of the plan happens, if it does."""
        for i in range(self.index + 1, len(self.plan.steps)):
            if self.plan.steps[i][0] == name:
                return self.times[i]
        return None

    def emit(self, kind: str, actor: Actor, data: dict[str, Any] | None = None,
             at: datetime | None = None) -> datetime:
        # Events of one moment keep their order on the timeline a second apart.
        when = at or self.t
        if self.last is not None and when <= self.last:
            when = self.last + timedelta(seconds=1)
        self.last = when
        user = actor if isinstance(actor, User) else None
        label = actor.email if isinstance(actor, User) else actor
        self.world.add_case_event(self.case, {"kind": kind, "data": data or {},
                                              "actor_id": user.id if user else None, "actor_label": label,
                                              "occurred_at": when})
        return when

    def status(self, new: CaseStatus, actor: Actor, at: datetime | None = None) -> None:
        old = self.case.status
        if old == new:
            return
        when = self.emit("status_changed", actor, {"from": old.value, "to": new.value}, at)
        self.case.status = new
        if new in OPEN_STATUSES:
            self.case.resolved_at = None  # a dispute can reopen a rejected case
            return
        self.case.resolved_at = when
        for name in self.deadlines:
            # What was still being waited for no longer is: settle_deadlines() cancels or fires it.
            self.met.setdefault(name, when)

    def send(self, template: str, actor: Actor, extra: dict[str, str] | None = None) -> None:
        """A message from the portal's own templates, queued and then sent by the outbox."""
        try:
            rendered = templates.render(None, self.case, template, extra)
        except templates.TemplateError:
            return  # the portal would not send an untrue or incomplete message either
        self._outbound(rendered.purpose, rendered.body, actor, rendered.subject)

    def reply(self, key: str, author: User | None, **fields: str) -> None:
        """An agent's own words to the buyer."""
        name = self.case.buyer.display_name.split(" ")[0]
        self._outbound(None, replies.reply(self.lang, key, name=name, **fields), author or "system")

    def _outbound(self, template: str | None, body: str, actor: Actor, subject: str | None = None) -> None:
        # As the portal does it: queued by whoever acted, then sent by the outbox moments later.
        when = self.emit("message_queued", actor, {"template": template or "reply"})
        sent = min(when + timedelta(seconds=self.world.rng.uniform(5, 90)), self.world.now)
        message = Message(id=self.world.new_id(Message), case=self.case, direction=MessageDirection.OUTBOUND,
                          status=MessageStatus.SENT, language=self.lang, template=template, body=body,
                          subject=subject, channel="case_record", idempotency_key=uuid.uuid4().hex,
                          author_id=actor.id if isinstance(actor, User) else None, attempts=1, sent_at=sent,
                          created_at=when)
        self.rows.append(message)
        self.sent.add(template or "reply")
        self.world.counts["messages"] += 1
        if self.case.first_response_at is None:
            self.case.first_response_at = when
            self.meet("seller_response", "review_target")

    def agent_for_queue(self, queue: str) -> User | None:
        return agent_for(self.world, queue)

    def take(self, agent: User | None = None) -> Actor:
        """The agent acting now, assigning the case to them if nobody has it yet."""
        agent = agent or self.agent
        if agent is None:
            return "system"
        if self.case.assignee is None:
            self.case.assignee = agent
            self.emit("assigned", agent, {"to": agent.name})
        return agent

    def hear(self, body: str, at: datetime | None = None) -> None:
        when = min(at or self.t, self.world.now)
        self.rows.append(Message(id=self.world.new_id(Message), case=self.case,
                                 direction=MessageDirection.INBOUND, status=MessageStatus.RECEIVED,
                                 language=self.lang, body=body, created_at=when, seen_at=when))
        self.world.counts["messages"] += 1

    def evidence(self, kind: EvidenceKind, source: EvidenceSource, data: bytes, filename: str, caption: str,
                 actor: Actor, at: datetime | None = None) -> None:
        sha = self.world.attach(data)
        self.evidence_kinds.add(kind.value)
        details = {"kind": kind.value, "sha256": sha, "filename": filename, "from": EVIDENCE_ORIGIN[source]}
        when = self.emit("evidence_added", actor, details, at)
        self.rows.append(EvidenceItem(id=self.world.new_id(EvidenceItem), case=self.case, kind=kind,
                                      source=source, sha256=sha, filename=filename,
                                      caption=caption, created_at=when,
                                      uploaded_by_id=actor.id if isinstance(actor, User) else None))
        self.world.counts["evidence_items"] += 1

    def deadline(self, name: str, kind: DeadlineKind, due: datetime, actor: Actor = "system",
                 pauses: bool = False) -> None:
        when = self.emit("deadline_set", actor, {"name": name, "due_at": due.isoformat()})
        row = Deadline(id=self.world.new_id(Deadline), case=self.case, name=name, kind=kind, due_at=due,
                       pauses_while_waiting=pauses, state=DeadlineState.PENDING, created_at=when)
        self.deadlines[name] = row
        self.rows.append(row)
        self.world.counts["deadlines"] += 1

    def wait(self) -> None:
        self.pauses.append([self.t, None])

    def resume(self) -> None:
        if self.pauses and self.pauses[-1][1] is None:
            self.pauses[-1][1] = self.t

    def _clock(self, row: Deadline) -> tuple[datetime, datetime | None]:
        """The due time once waiting spells are added, and when the clock stopped if it stands still now."""
        due = row.due_at
        if not row.pauses_while_waiting:
            return due, None
        for start, end in self.pauses:
            assert start is not None
            if start >= due:
                break
            if end is None:
                return due, start
            due += end - start
        return due, None

    def meet(self, *names: str) -> None:
        for name in names:
            if name in self.deadlines and name not in self.met:
                self.met[name] = self.t

    def settle_deadlines(self) -> None:
        """Each deadline's state as of now: met or moot ones cancelled, run-out ones fired, others pending."""
        rng, now = self.world.rng, self.world.now
        closed_at = self.case.resolved_at if self.case.status not in OPEN_STATUSES else None
        for name, row in self.deadlines.items():
            met = self.met.get(name)
            row.due_at, stopped = self._clock(row)
            if met is not None and met <= row.due_at:
                row.state = DeadlineState.CANCELLED
            elif stopped is not None and met is None and closed_at is None:
                # The clock stopped when the case started waiting for the buyer.
                row.state = DeadlineState.PAUSED
                row.remaining_seconds = int((row.due_at - stopped).total_seconds())
            elif row.due_at <= min(x for x in (met, closed_at, now) if x is not None):
                if closed_at is None and met is None and now - row.due_at < OVERDUE_WINDOW:
                    # Still pending: in the Overdue view until the scheduler sweeps it.
                    continue
                # The scheduler fires within a minute, except when it was down for a while.
                late = rng.random() < 0.06
                lag = timedelta(minutes=rng.uniform(20, 180) if late else rng.uniform(0.05, 0.9))
                row.state, row.fired_late, row.attempts = DeadlineState.FIRED, late, 1
                row.fired_at = min(row.due_at + lag, now)
                self.world.add_case_event(self.case, {"kind": "deadline_expired", "actor_label": "scheduler",
                                                      "data": {"name": name, "late": late}, "actor_id": None,
                                                      "occurred_at": row.fired_at})
            elif closed_at is not None:
                row.state = DeadlineState.CANCELLED

"""Every kind of stored work the portal claims and retries, described once for the claim helper.

A new kind adds its `WorkQueue` here and to `ALL`, so the admin's dead-letter page lists it.
"""

from __future__ import annotations

import os
from datetime import timedelta

from portal.domain.enums import DeadlineState, MessageDirection, MessageStatus
from portal.domain.models import (
    Deadline,
    Job,
    MarketplaceCommand,
    MarketplaceEvent,
    Message,
    ShopConnection,
    TrackingStaleMark,
)
from portal.domain.work.claims import Backoff, WorkQueue

# A deadline's effect is the portal's own database work: a failure is usually a bug or a policy that
# cannot apply, so it gives up sooner than work that waits for another system.
DEADLINES = WorkQueue(
    kind="deadlines",
    model=Deadline,
    state=Deadline.state,
    due=Deadline.due_at,
    attempts=Deadline.attempts,
    last_error=Deadline.last_error,
    ready=DeadlineState.PENDING,
    failed=DeadlineState.FAILED,
    backoff=Backoff(first=timedelta(minutes=2), cap=timedelta(minutes=30), max_attempts=5),
)

MARKETPLACE_INBOX = WorkQueue(
    kind="marketplace_inbox",
    model=MarketplaceEvent,
    state=MarketplaceEvent.state,
    due=MarketplaceEvent.next_attempt_at,
    attempts=MarketplaceEvent.attempts,
    last_error=MarketplaceEvent.last_error,
    ready="pending",
    backoff=Backoff(first=timedelta(seconds=30), cap=timedelta(hours=1), max_attempts=6),
)

# Sent over HTTP, so held under a lease; the idempotency key makes a repeat after a lost lease harmless.
MARKETPLACE_COMMANDS = WorkQueue(
    kind="marketplace_commands",
    model=MarketplaceCommand,
    state=MarketplaceCommand.state,
    due=MarketplaceCommand.next_attempt_at,
    attempts=MarketplaceCommand.attempts,
    last_error=MarketplaceCommand.last_error,
    ready="pending",
    leased="sending",
    lease=timedelta(minutes=2),
)

TRACKING_STALE = WorkQueue(
    kind="tracking_stale",
    model=TrackingStaleMark,
    state=TrackingStaleMark.state,
    due=TrackingStaleMark.next_attempt_at,
    attempts=TrackingStaleMark.attempts,
    last_error=TrackingStaleMark.last_error,
    ready="pending",
    backoff=Backoff(first=timedelta(minutes=1), cap=timedelta(hours=1), max_attempts=6),
)

# Background jobs run for minutes: a worker's heartbeat renews its lease while it works, and a job
# whose worker died is taken again when the lease runs out (JOB_LEASE_SECONDS: how long a dead worker's
# job waits). Three attempts: a job that kills its worker three times is not going to finish.
JOBS = WorkQueue(
    kind="jobs",
    model=Job,
    state=Job.status,
    due=Job.due_at,
    attempts=Job.attempts,
    last_error=Job.error,
    ready="queued",
    leased="running",
    lease=timedelta(seconds=float(os.environ.get("JOB_LEASE_SECONDS", "60"))),
    backoff=Backoff(first=timedelta(seconds=10), cap=timedelta(minutes=5), max_attempts=3),
)

# Buyer messages leave the portal (SMTP, the marketplace's chat): held under a lease and sent with an
# idempotency key, so a repeat after a lost lease is recognisable as the same message.
BUYER_MESSAGES = WorkQueue(
    kind="buyer_messages",
    model=Message,
    state=Message.status,
    due=Message.next_attempt_at,
    attempts=Message.attempts,
    last_error=Message.last_error,
    ready=MessageStatus.QUEUED,
    failed=MessageStatus.FAILED,
    leased=MessageStatus.SENDING,
    lease=timedelta(minutes=2),
    backoff=Backoff(first=timedelta(seconds=30), cap=timedelta(hours=1), max_attempts=6),
    where=(Message.direction == MessageDirection.OUTBOUND,),
)

# A shop's access token, refreshed before it expires: an HTTP call, so held under a lease. A refusal
# (the refresh token expired or was revoked) is not retried: the shop stops syncing and says why.
SHOP_TOKENS = WorkQueue(
    kind="shop_tokens",
    model=ShopConnection,
    state=ShopConnection.refresh_state,
    due=ShopConnection.refresh_due_at,
    attempts=ShopConnection.refresh_attempts,
    last_error=ShopConnection.refresh_error,
    ready="scheduled",
    leased="refreshing",
    lease=timedelta(minutes=2),
    backoff=Backoff(first=timedelta(seconds=30), cap=timedelta(minutes=30), max_attempts=6),
)

ALL: tuple[WorkQueue, ...] = (
    DEADLINES, MARKETPLACE_INBOX, MARKETPLACE_COMMANDS, TRACKING_STALE, JOBS, BUYER_MESSAGES, SHOP_TOKENS
)
BY_KIND: dict[str, WorkQueue] = {queue.kind: queue for queue in ALL}

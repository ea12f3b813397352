"""The periodic work of every area, registered with the scheduler process.

Each import below registers its tasks with `portal.scheduler.periodic`; add an area's module here.
"""

from __future__ import annotations

import portal.analytics.tasks  # noqa: F401  (analytics rollups of changed days)
import portal.audit.scheduled  # noqa: F401  (sequencing and signing the audit log)
import portal.carriers.scheduled  # noqa: F401  (stale carrier tracking)
import portal.cases.scheduled  # noqa: F401  (automatic assignment, presence clean-up)
import portal.intake.scheduled  # noqa: F401  (marketplace inbox, outbox and reconciliation)

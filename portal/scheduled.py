"""The periodic work of every area, registered with the scheduler process.

Each import below registers its tasks with `portal.scheduler.periodic`; add an area's module here.
"""

from __future__ import annotations

""""Next case": the case after the current one in the agent's filtered queue, in the queue's own order."""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.domain.models import Case
from portal.domain.queue import CaseFilter, case_query, sort_keys
from portal.pagination import after


def next_case(session: Session, f: CaseFilter, current: Case) -> str | None:
    """The number of the case that follows `current` in the queue `f` describes, or None at the end.

    The position is the current case's own sort values, so this works even when the case has just left
    the filter (resolved, reassigned): the agent continues where it stood.
    """
    keys = sort_keys(f.sort)
    position = [getattr(current, expression.key) for expression, _descending in keys]
    ordering = [expression.desc() if descending else expression.asc() for expression, descending in keys]
    query = (
        case_query(f)
        .where(after(keys, position), Case.id != current.id)
        .with_only_columns(Case.number)
        .order_by(*ordering)
        .limit(1)
    )
    return session.scalar(query)

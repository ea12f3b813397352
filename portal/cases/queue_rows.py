"""The queue's rows, formatted once in Python and placed by the template.

Fifty rows through template macros and filters cost several times the query that finds them: every
macro call builds a Jinja frame, every filter and `_()` finds the request's locale again. Here each
value of a row is formatted once, and `_row_items.html` only places the texts (still autoescaped: plain
strings here are escaped there). The status badge is the `status_badge` macro's markup, written here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import url_for
from flask_babel import gettext, ngettext
from markupsafe import Markup

from portal.domain.models import Case
from portal.formatting import countdown, format_money, time_tag
from portal.labels import label


@dataclass(frozen=True, slots=True)
class QueueRow:
    number: str
    url: str
    select_label: str
    unread: bool
    notes: Markup  # what follows the number: who has it open, new messages, not delivered, escalated
    due: Markup
    type: str
    reason: str
    status: Markup
    market: str
    value: str
    buyer: str
    queue: str
    assignee: str
    opened: Markup


def queue_rows(cases: Sequence[Case], now: datetime, present: Mapping[int, list[str]]) -> list[QueueRow]:
    """The rows of a queue page; `present` names the colleagues who have each case open."""
    waiting = Markup(' <span class="tag">%s</span>') % gettext("waiting")
    escalated = Markup(' <span class="tag">%s</span>') % gettext("escalated")
    not_delivered = Markup(' <span class="tag tag-problem" title="%s">%s</span>')
    unread_badge = Markup(' <span class="badge badge-unread" title="%s">%s</span>')
    viewing_badge = Markup(' <span class="presence-badge" title="%s">%s</span>')
    status_badge = Markup('<span class="badge status-%s">%s</span>')
    rows = []
    for case in cases:
        notes = Markup()
        viewers = present.get(case.id)
        if viewers:
            names = ", ".join(viewers)
            notes += viewing_badge % (
                gettext("Has this case open now"),
                ngettext("%(names)s is viewing", "%(names)s are viewing", len(viewers), names=names),
            )
        if case.unread_messages:
            notes += unread_badge % (
                gettext("Unread buyer messages"),
                ngettext("%(num)d new message", "%(num)d new messages", case.unread_messages),
            )
        if case.delivery_problem:
            notes += not_delivered % (case.delivery_problem, gettext("not delivered"))
        if case.escalated:
            notes += escalated
        status = status_badge % (case.status.value, label(case.status))
        rows.append(
            QueueRow(
                number=case.number,
                url=url_for("cases.show", number=case.number),
                select_label=gettext("Select %(case)s", case=case.number),
                unread=bool(case.unread_messages),
                notes=notes,
                due=countdown(case.next_deadline_at, now),
                type=label(case.type),
                reason=label(case.reason),
                status=status + waiting if case.waiting_for_buyer else status,
                market=case.market.code,
                value=format_money(case.value, case.currency),
                buyer=case.buyer.display_name,
                queue=case.queue,
                assignee=case.assignee.name if case.assignee else "—",
                opened=time_tag(case.opened_at, "short"),
            )
        )
    return rows


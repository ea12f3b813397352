"""Audit entries as people read them: a sentence per kind of action, and the fields it changed.

Case entries say what the case timeline says (the same messages, so the same translations).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import ngettext as babel_ngettext

from portal import formatting
from portal.domain.models import AuditEntry
from portal.domain.types import N_
from portal.i18n import format_money
from portal.labels import action_label, event_label, label, origin_label, purpose_label


def _(message: str, **values: Any) -> str:
    """gettext that looks each message up once per language: an export says the same few sentences
    tens of thousands of times, and Flask-Babel's own lookup is the slowest part of a row. A detail an
    older entry lacks reads as a dash, not as "None"."""
    text = formatting.gettext(message)
    return text % _dashed(values) if values else text


def ngettext(singular: str, plural: str, num: int, **values: Any) -> str:
    return babel_ngettext(singular, plural, num, **_dashed(values))


def _dashed(values: dict[str, Any]) -> dict[str, Any]:
    return {key: "—" if value is None else value for key, value in values.items()}


Details = dict[str, Any]
# Enough of a note to recognise it; the whole text is in the raw entry.
NOTE_SHOWN = 200
Sentence = Callable[[Details], str]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _label(value: Any) -> str | None:
    return None if value is None else label(value)


def _event(value: Any) -> str | None:
    return None if value is None else event_label(value)


def _action(value: Any) -> str | None:
    return None if value is None else action_label(value)


def _money(d: Details) -> str:
    try:
        return format_money(Decimal(str(d.get("amount"))), str(d.get("currency") or "USD"))
    except (InvalidOperation, ValueError):
        return _text(d.get("amount"))


def _signed_in(d: Details) -> str:
    how = d.get("second_factor")
    if how == "totp":
        return _("Signed in with a code from the app")
    if how == "recovery_code":
        return _("Signed in with a recovery code")
    return _("Signed in")


def _deactivated(d: Details) -> str:
    sentence = ngettext("Deactivated %(email)s; %(num)d session ended",
                        "Deactivated %(email)s; %(num)d sessions ended",
                        int(d.get("sessions_ended") or 0), email=d.get("email"))
    cases = int(d.get("cases_unassigned") or 0)
    if cases:
        sentence += "; " + ngettext("%(num)d open case back in the queue",
                                    "%(num)d open cases back in the queue", cases)
    return sentence


def _assigned(d: Details) -> str:
    if d.get("to"):
        return _("Assigned to %(who)s", who=d.get("to"))
    if d.get("reason") == "deactivated":
        return _("Back in the queue, unassigned: %(who)s was deactivated", who=d.get("from"))
    return _("Unassigned")


# One sentence per action; entries of kinds not listed here show their action name.
SENTENCES: dict[str, Sentence] = {
    # People and sign-in.
    "user.created": lambda d: _("Created the user %(email)s (%(role)s)", email=d.get("email"),
                                role=_label(d.get("role"))),
    "user.login": _signed_in,
    "user.logout": lambda d: _("Signed out"),
    "user.password_changed": lambda d: ngettext(
        "Changed their password; %(num)d session ended", "Changed their password; %(num)d sessions ended",
        int(d.get("sessions_ended") or 0)),
    "user.deactivated": _deactivated,
    "user.reactivated": lambda d: _("Reactivated %(email)s", email=d.get("email")),
    "user.signed_out_everywhere": lambda d: _(
        "%(email)s is signed out everywhere (%(count)d sessions ended).", email=d.get("email"),
        count=int(d.get("sessions_ended") or 0)),
    "user.second_factor_reset": lambda d: _("Reset the two-step sign-in of %(email)s", email=d.get("email")),
    "user.second_factor_enabled": lambda d: _("Turned on two-step sign-in"),
    "user.second_factor_disabled": lambda d: _("Turned off two-step sign-in"),
    "user.recovery_codes_renewed": lambda d: _("Made new recovery codes"),
    "user.role_changed": lambda d: _("Changed the role of %(email)s", email=d.get("email")),
    "user.updated": lambda d: _("Changed the details of %(email)s", email=d.get("email")),
    "user.password_reset_link": lambda d: (
        _("Sent %(email)s a link to set a new password", email=d.get("email")) if d.get("sent_by_email")
        else _("Made a link for %(email)s to set a new password", email=d.get("email"))),
    "user.password_reset": lambda d: ngettext(
        "Set a new password through a reset link; %(num)d session ended",
        "Set a new password through a reset link; %(num)d sessions ended", int(d.get("sessions_ended") or 0)),
    "api_token.created": lambda d: _("Created the API token “%(name)s” (%(role)s)", name=d.get("name"),
                                     role=_label(d.get("role"))),
    "api_token.revoked": lambda d: _("Revoked the API token “%(name)s”", name=d.get("name")),
    # Policies, messages, deadlines.
    "policy.created": lambda d: _("Created a policy for market %(market)s", market=d.get("market")),
    "policy.published": lambda d: _("Published policy version %(number)s", number=d.get("number")),
    "policy.rolled_back": lambda d: _("Rolled the policy back to version %(old)s (now version %(number)s)",
                                      old=d.get("copied_from"), number=d.get("number")),
    "policy.draft_discarded": lambda d: _("Discarded the policy draft %(number)s", number=d.get("number")),
    "macro.created": lambda d: _("Created the macro “%(name)s”", name=d.get("name")),
    "macro.changed": lambda d: _("Changed the macro “%(name)s”", name=d.get("name")),
    "macro.deactivated": lambda d: _("Switched off the macro “%(name)s”", name=d.get("name")),
    "macro.reactivated": lambda d: _("Switched on the macro “%(name)s”", name=d.get("name")),
    "macro.moved": lambda d: _("Moved the macro “%(name)s” to place %(position)s", name=d.get("name"),
                               position=d.get("position")),
    "macro.deleted": lambda d: _("Macro “%(name)s” deleted.", name=d.get("name")),
    "message_template.saved": lambda d: _("Saved version %(number)s of a message to buyers",
                                          number=d.get("number")),
    "deadline_setting.saved": lambda d: _("Set the deadline %(name)s to %(hours)s hours",
                                          name=_label(d.get("name")), hours=d.get("hours")),
    "deadline_setting.removed": lambda d: _("Removed a setting of the deadline %(name)s",
                                            name=_label(d.get("name"))),
    "business_calendar.saved": lambda d: _("Changed a market's business hours (%(opens)s–%(closes)s)",
                                           opens=d.get("opens"), closes=d.get("closes")),
    "deadline.fired": lambda d: _("Deadline ran out: %(name)s", name=_label(d.get("name"))),
    "work.retried": lambda d: _("Queued failed work again"),
    "demo.seeded": lambda d: _("Loaded the demo data"),
}

# Case entries (action "case.<kind>"): the case timeline's own sentences.
CASE_SENTENCES: dict[str, Sentence] = {
    "case_opened": lambda d: _("Case opened"),
    "status_changed": lambda d: _("Status changed from %(old)s to %(new)s", old=_label(d.get("from")),
                                  new=_label(d.get("to"))),
    "assigned": _assigned,
    "return_approved": lambda d: _("Return approved, RMA %(rma)s", rma=d.get("rma")),
    "return_shipped": lambda d: _("Buyer shipped the return"),
    "return_received": lambda d: _("Return received at the warehouse"),
    "inspection_done": lambda d: _("Inspection done: %(result)s", result=_label(d.get("result"))),
    "refund_issued": lambda d: _("Refund issued: %(amount)s", amount=_money(d)),
    "message_sent": lambda d: _("Message sent to the buyer"),
    "evidence_added": lambda d: (_("Evidence added: %(kind)s, %(origin)s", kind=_label(d.get("kind", "")),
                                   origin=origin_label(d["from"])) if d.get("from")
                                 else _("Evidence added: %(kind)s", kind=_label(d.get("kind", "")))),
    "deadline_set": lambda d: _("Deadline set: %(name)s", name=_label(d.get("name"))),
    "deadline_expired": lambda d: _("Deadline ran out: %(name)s", name=_label(d.get("name"))),
    "dispute_opened": lambda d: _("Dispute opened on the marketplace"),
    "note": lambda d: (_("Note: %(text)s", text=_text(d.get("text"))[:NOTE_SHOWN]) if d.get("text")
                       else _("Note")),
    "decided": lambda d: _("Policy decided %(event)s: %(actions)s", event=_event(d.get("event")),
                           actions=", ".join(action_label(a) for a in d.get("actions") or [])),
    "action_skipped": lambda d: _("Skipped %(action)s: %(reason)s", action=_action(d.get("action")),
                                  reason=d.get("reason")),
    "message_queued": lambda d: _("Message to the buyer queued: %(what)s",
                                  what=purpose_label(d.get("template"))),
    "rejected": lambda d: _("Rejected: %(reason)s", reason=d.get("reason")),
    "evidence_requested": lambda d: _("Asked the buyer for a %(kind)s", kind=_label(d.get("kind"))),
    "exchange_promised": lambda d: _("Replacement promised: %(sku)s", sku=d.get("sku")),
    "exchange_shipped": lambda d: _("Replacement shipped: %(carrier)s %(tracking)s", carrier=d.get("carrier"),
                                    tracking=d.get("tracking")),
    "escalated": lambda d: _("Escalated to the senior queue"),
    "queued": lambda d: _("Moved to queue %(queue)s", queue=d.get("queue")),
    "tagged": lambda d: _("Tagged %(tag)s", tag=d.get("tag")),
    "dispute_responded": lambda d: _("Dispute answered"),
    "deadline_default": lambda d: _("Platform default applied after %(name)s ran out",
                                    name=_label(d.get("name"))),
    "request_lapsed": lambda d: _("The buyer did not ship in time; the marketplace closed the request"),
    "delivery_attempt_failed": lambda d: _("Delivery attempt failed: %(carrier)s %(tracking)s",
                                           carrier=d.get("carrier"), tracking=d.get("tracking_number")),
    "tracking_stale": lambda d: ngettext(
        "No tracking news from %(carrier)s for %(num)d day (%(tracking)s)",
        "No tracking news from %(carrier)s for %(num)d days (%(tracking)s)", int(d.get("days") or 0),
        carrier=d.get("carrier"), tracking=d.get("tracking_number")),
    "automation_paused": lambda d: _("Automation paused: %(event)s not decided",
                                     event=_event(d.get("event"))),
    "buyer_replied": lambda d: (_("The buyer wrote; the case is open again") if d.get("reopened")
                                else _("The buyer wrote")),
    "message_failed": lambda d: _("A message could not be delivered: %(reason)s", reason=d.get("reason")),
    "message_retried": lambda d: _("A failed message is being sent again"),
    "macro_applied": lambda d: _("Macro “%(name)s” applied", name=d.get("macro")),
    "marketplace_status": lambda d: _("Marketplace status: %(status)s", status=_label(d.get("status"))),
}

# Names of the fields whose before and after values the trail shows.
FIELD_NAMES = {
    "status": N_("Status"),
    "role": N_("Role"),
    "name": N_("Name"),
    "locale": N_("Language"),
    "timezone": N_("Time zone"),
    "actions": N_("Actions"),
    "description": N_("Description"),
    "version": N_("Version"),
}


def sentence(entry: AuditEntry) -> str:
    """What the entry says happened, in the reader's language."""
    details = entry.details if isinstance(entry.details, dict) else {}
    make = SENTENCES.get(entry.action)
    if make is None and entry.action.startswith("case."):
        make = CASE_SENTENCES.get(entry.action.removeprefix("case."))
    if make is None:
        return entry.action
    try:
        return make(details)
    except (TypeError, ValueError, KeyError):
        # An entry written by an older version with details of another shape: say what it was at least.
        return entry.action


def _shown(field: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if field in ("status", "role"):
        return label(value)
    return str(value)


def changes(entry: AuditEntry) -> list[tuple[str, str, str]]:
    """(field, before, after) for what the entry changed, in the reader's language."""
    d = entry.details if isinstance(entry.details, dict) else {}
    pairs: list[tuple[str, Any, Any]] = []
    if isinstance(d.get("changes"), dict):
        pairs = [(field, *values) for field, values in d["changes"].items()
                 if isinstance(values, list) and len(values) == 2]
    elif isinstance(d.get("before"), dict):
        pairs = [(field, old, d.get(field)) for field, old in d["before"].items() if old != d.get(field)]
    elif entry.action == "case.status_changed":
        pairs = [("status", d.get("from"), d.get("to"))]
    elif entry.action in ("policy.published", "policy.rolled_back") and d.get("previous") is not None:
        pairs = [("version", d.get("previous"), d.get("number"))]
    return [(_(FIELD_NAMES[field]) if field in FIELD_NAMES else field, _shown(field, old), _shown(field, new))
            for field, old, new in pairs]


# The action filter's groups: an action belongs to the first whose prefix it has.
GROUPS = (("case.", N_("Cases")), ("user.", N_("People and sign-in")), ("policy.", N_("Policies")),
          ("", N_("Other")))


def action_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The action filter's choices: (group name, [(value, name)]), each group led by "every ... action"."""
    every = {"case.": _("Every case action"), "user.": _("Every user action"),
             "policy.": _("Every policy action")}
    actions = sorted([*SENTENCES, *(f"case.{kind}" for kind in CASE_SENTENCES)])
    groups = []
    for prefix, name in GROUPS:
        members = [a for a in actions if a.startswith(prefix)]
        actions = [a for a in actions if not a.startswith(prefix)]
        choices = [(prefix, every[prefix])] if prefix in every else []
        # The stored name, made readable ("case.status_changed" -> "status changed"); the value stays exact.
        choices += [(a, a.removeprefix(prefix).replace("_", " ").replace(".", ": ")) for a in members]
        groups.append((_(name), choices))
    return groups


def known_actions() -> set[str]:
    """Every value the action filter accepts."""
    return {value for _name, choices in action_groups() for value, _text in choices}

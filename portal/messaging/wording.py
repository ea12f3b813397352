"""What the messaging pages say about templates and macros, in the reader's language.

The domain speaks English with %(name)s params, its sentences marked with N_ where they are written;
they are looked up by their English text when shown.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from portal.domain.conversations import templates
from portal.domain.conversations.macros import MacroProblem
from portal.domain.types import N_
from portal.labels import purpose_label
from portal.policies.editor import ui_lang
from rules import messages as rule_messages

LANGUAGE_NAMES = {
    "en": _l("English"),
    "de": _l("German"),
    "ms": _l("Malay"),
    "zh": _l("Chinese"),
}

# When the case's state makes the message true; agents are offered it only then.
PURPOSE_WHEN = {
    "return_approved": _l("The latest return is approved or has its label."),
    "return_received": _l("The warehouse has received the latest return."),
    "inspection_passed": _l("The latest inspection passed."),
    "refund_initiated": _l("The case has a refund (not a coupon)."),
    "coupon_issued": _l("The case has a coupon."),
    "exchange_shipped": _l("A replacement has shipped."),
    "evidence_requested": _l("The case is still open."),
    "request_rejected": _l("The request was declined."),
    "confirm_address": _l("The case is a failed delivery."),
    "tracking_stale": _l("The order has a shipment."),
}
FACT_HELP = {
    "buyer": _l("the buyer's name"),
    "order": _l("the order number"),
    "case": _l("the case number"),
    "shop": _l("the shop's name"),
    "rma": _l("the return's RMA number"),
    "ship_by": _l("the date to ship the return by"),
    "carriers": _l("the tracked carriers the buyer may use"),
    "address": _l("the return address"),
    "payer": _l("who pays return shipping"),
    "refund_amount": _l("the amount of the latest refund"),
    "coupon_amount": _l("the amount of the latest coupon"),
    "tracking": _l("the replacement's carrier and tracking number"),
    "reason": _l("the reason the request was declined"),
    "evidence": _l("what the buyer is asked to send"),
}
MACRO_SENTENCES = {
    "macro.empty": N_('Write at least one action, such as request_evidence "photo".'),
    "macro.too_long": N_("A macro is at most %(limit)s characters."),
    "macro.too_many": N_("A macro has at most %(limit)s actions."),
    "macro.no_name": N_("Give the macro a name."),
    "macro.name_taken": N_("There is already a macro called “%(name)s”."),
}


def language_name(code: str) -> str:
    return str(LANGUAGE_NAMES.get(code, code))


def purpose_name(name: str) -> str:
    return purpose_label(name)


def purpose_when(name: str) -> str:
    return str(PURPOSE_WHEN.get(name, ""))


def fact_help(name: str) -> str:
    return str(FACT_HELP.get(name, templates.FACTS[name][0]))


def sentence(message: str, params: dict[str, Any] | None = None) -> str:
    """A domain sentence in the reader's language (English when it has no translation yet)."""
    return gettext(message, **(params or {}))


def macro_problem(problem: MacroProblem) -> str:
    """A macro problem in the reader's language: the policy checker's own wording, or the macro's."""
    if problem.code == "macro.unknown_message":
        if problem.params.get("suggestion"):
            return gettext(
                "There is no message called “%(name)s”; did you mean “%(suggestion)s”?",
                name=problem.params["name"],
                suggestion=problem.params["suggestion"],
            )
        return gettext(
            "There is no message called “%(name)s”; choose one of %(names)s.",
            name=problem.params.get("name", ""),
            names=problem.params.get("names", ""),
        )
    if problem.code in MACRO_SENTENCES:
        return gettext(MACRO_SENTENCES[problem.code], **problem.params)
    if problem.code:
        return rule_messages.render(problem.code, problem.params, ui_lang())
    return problem.message

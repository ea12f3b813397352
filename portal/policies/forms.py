"""The policy forms: publish and roll back with a comment, and the "try it" case description."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.domain.policies import MAX_COMMENT
from rules import vocabulary as v

SIMULATION_PERIODS = (7, 30, 90, 180)
FACT_PREFIX = "fact."


class PublishForm(FlaskForm):
    comment = TextAreaField(_l("Why this change? (required, kept in the history)"),
                            validators=[DataRequired(_l("Say why you are making this change.")),
                                        Length(max=MAX_COMMENT)])
    token = HiddenField()


class ApproveForm(FlaskForm):
    comment = TextAreaField(_l("Comment (optional, kept in the history)"),
                            validators=[Length(max=MAX_COMMENT)])


class RejectForm(FlaskForm):
    comment = TextAreaField(_l("Why reject? (required, the requester sees it)"),
                            validators=[DataRequired(_l("Say why you reject the request.")),
                                        Length(max=MAX_COMMENT)])


class RollbackForm(FlaskForm):
    comment = TextAreaField(_l("Why roll back? (required, kept in the history)"),
                            validators=[DataRequired(_l("Say why you are rolling back.")),
                                        Length(max=MAX_COMMENT)])


@dataclass
class TryInput:
    """The case described in the "try it" form: its facts, and any fields that could not be read."""

    facts: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    case_number: str = ""
    event: str = v.DEFAULT_EVENT


def _set(facts: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = facts
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def read_try_form(form: Mapping[str, str]) -> TryInput:
    """Facts from the form; a field left empty stays missing, exactly as a real case would have it."""
    result = TryInput(case_number=(form.get("case_number") or "").strip()[:20])
    event = (form.get("event") or v.DEFAULT_EVENT).strip()
    result.event = event if event in v.EVENTS or event.startswith("deadline:") else v.DEFAULT_EVENT
    for name, spec in v.FIELDS.items():
        raw = (form.get(FACT_PREFIX + name) or "").strip()[:200]
        result.raw[name] = raw
        if not raw:
            continue
        if spec.type == v.BOOLEAN:
            if raw not in ("true", "false"):
                result.errors[name] = str(_l("Choose yes or no."))
                continue
            _set(result.facts, name, raw == "true")
        elif spec.type == v.NUMBER:
            try:
                number = Decimal(raw)
            except InvalidOperation:
                result.errors[name] = str(_l("Enter a number."))
                continue
            if not number.is_finite():
                result.errors[name] = str(_l("Enter a number."))
                continue
            _set(result.facts, name, number)
        else:
            _set(result.facts, name, raw)
    return result


def event_choices() -> list[str]:
    return [name for name in v.EVENTS if name != "deadline"]

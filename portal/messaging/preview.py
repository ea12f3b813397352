"""A template text being edited, rendered for a real case before it is saved."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.conversations import templates
from portal.domain.conversations.texts import translate
from portal.domain.models import Case

MAX_CASE_NUMBER = 40


@dataclass
class Preview:
    """What the buyer of `case_number` would read, or why they could not be sent it."""

    case_number: str = ""
    problem: str = ""  # "no_number", "no_case" or "invalid"
    fits: bool = True  # the case's state makes the message true, so agents are offered it
    missing: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""


def _names(*texts: str) -> list[str]:
    seen: dict[str, None] = {}
    for text in texts:
        for _offset, name in templates.placeholders(text):
            if name is not None:
                seen.setdefault(name.strip(), None)
    return list(seen)


def preview(
    session: Session, purpose: str, language: str, subject: str, body: str, case_number: str
) -> Preview:
    """Fill the given texts with the facts of a case, exactly as a send would, without sending."""
    result = Preview(case_number=case_number.strip()[:MAX_CASE_NUMBER])
    if not result.case_number:
        result.problem = "no_number"
        return result
    case = session.scalar(select(Case).where(Case.number == result.case_number))
    if case is None:
        result.problem = "no_case"
        return result
    if templates.check(body) or (subject and templates.check(subject, templates.MAX_SUBJECT)):
        result.problem = "invalid"
        return result
    spec = templates.PURPOSES[purpose]
    if not subject.strip():
        subject = translate(spec.subject, language)
    result.fits = spec.applies(case)
    values: dict[str, str] = {}
    for name in _names(subject, body):
        value = templates.FACTS[name][1](case, language, {})
        if value is None or not str(value).strip():
            result.missing.append(name)
        else:
            values[name] = str(value)
    if not result.missing:
        result.subject = templates.fill(subject, values)[: templates.MAX_SUBJECT]
        result.body = templates.fill(body, values)
    return result

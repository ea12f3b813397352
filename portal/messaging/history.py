"""A template's versions as the editor shows them: the texts each put in force, and word-level diffs."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.domain.conversations import templates
from portal.domain.conversations.texts import translate
from portal.domain.models import MessageTemplateVersion

HISTORY_LIMIT = 50
# The comment of a version that restored an earlier one: "↺ v3" reads the same in every language.
RESTORED_MARK = "↺ v"
# Words with the spaces after them: a one-paragraph template still shows what changed inside it.
_TOKENS = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class Segment:
    kind: str  # "same", "added" or "removed"
    text: str


@dataclass(frozen=True)
class Entry:
    """One version, with the subject and body it put in force and what changed from the one before."""

    version: MessageTemplateVersion
    subject: str
    body: str
    is_default: bool
    subject_diff: list[Segment]
    body_diff: list[Segment]

    @property
    def restored_from(self) -> int | None:
        comment = self.version.comment or ""
        number = comment.removeprefix(RESTORED_MARK)
        return int(number) if comment.startswith(RESTORED_MARK) and number.isdigit() else None

    @property
    def changed(self) -> bool:
        return any(s.kind != "same" for s in (*self.subject_diff, *self.body_diff))


def word_diff(old: str, new: str) -> list[Segment]:
    """What changed from `old` to `new`, word by word (the page escapes the text)."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    out: list[Segment] = []
    # autojunk keeps a 4,000-character diff under a millisecond; without it one can take 150 ms.
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=True).get_opcodes():
        if tag == "equal":
            out.append(Segment("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(Segment("removed", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(Segment("added", "".join(b[j1:j2])))
    return out


def in_force(version: MessageTemplateVersion | None, purpose: str, language: str) -> tuple[str, str, bool]:
    """The subject and body a version puts in force (the shipped default for none, or a reset)."""
    spec = templates.PURPOSES[purpose]
    if version is None or not version.body:
        return translate(spec.subject, language), translate(spec.body, language), True
    return version.subject or translate(spec.subject, language), version.body, False


def history(
    session: Session, purpose: str, language: str, limit: int = HISTORY_LIMIT
) -> tuple[list[Entry], int]:
    """The newest `limit` versions, newest first, each diffed against the one before; and the total count."""
    total = (
        session.scalar(
            select(func.count())
            .select_from(MessageTemplateVersion)
            .where(MessageTemplateVersion.purpose == purpose, MessageTemplateVersion.language == language)
        )
        or 0
    )
    versions = list(
        session.scalars(
            select(MessageTemplateVersion)
            .where(MessageTemplateVersion.purpose == purpose, MessageTemplateVersion.language == language)
            .order_by(MessageTemplateVersion.number.desc())
            .limit(limit + 1)
            .options(selectinload(MessageTemplateVersion.created_by))
        )
    )
    entries: list[Entry] = []
    for index, version in enumerate(versions[:limit]):
        before = versions[index + 1] if index + 1 < len(versions) else None
        old_subject, old_body, _ = in_force(before, purpose, language)
        subject, body, is_default = in_force(version, purpose, language)
        entries.append(
            Entry(
                version, subject, body, is_default, word_diff(old_subject, subject), word_diff(old_body, body)
            )
        )
    return entries, total


def current_versions(session: Session) -> dict[tuple[str, str], MessageTemplateVersion]:
    """The newest version of every purpose and language that has one."""
    newest = (
        select(
            MessageTemplateVersion.purpose,
            MessageTemplateVersion.language,
            func.max(MessageTemplateVersion.number).label("number"),
        )
        .group_by(MessageTemplateVersion.purpose, MessageTemplateVersion.language)
        .subquery()
    )
    rows = session.scalars(
        select(MessageTemplateVersion)
        .join(
            newest,
            (MessageTemplateVersion.purpose == newest.c.purpose)
            & (MessageTemplateVersion.language == newest.c.language)
            & (MessageTemplateVersion.number == newest.c.number),
        )
        .options(selectinload(MessageTemplateVersion.created_by))
    )
    return {(v.purpose, v.language): v for v in rows}

"""Changing a policy safely: drafts, publishing, rolling back, history and diffs between versions."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import rules
from portal.domain import audit
from portal.domain.enums import PolicyStatus
from portal.domain.models import Market, Policy, PolicyVersion, User
from portal.domain.types import rowcount, utcnow

NEW_DRAFT = "new"
MAX_COMMENT = 2000


class PolicyChangeError(Exception):
    """A change that was refused; `code` says why so the page can say it in the user's language."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def edit_token(version: PolicyVersion | None) -> str:
    """What the editor saw: the draft's id and a hash of its text, or NEW_DRAFT when there was none.

    A save or publish that carries an older token is refused, so two managers editing the same draft
    never silently overwrite each other.
    """
    if version is None:
        return NEW_DRAFT
    digest = hashlib.sha256(version.text.encode("utf-8")).hexdigest()[:16]
    return f"{version.id}:{digest}"


def draft_of(session: Session, policy_id: int) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).where(
        PolicyVersion.policy_id == policy_id, PolicyVersion.status == PolicyStatus.DRAFT)
        .order_by(PolicyVersion.number.desc()).limit(1))


def published_of(session: Session, policy_id: int) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).where(
        PolicyVersion.policy_id == policy_id, PolicyVersion.status == PolicyStatus.PUBLISHED)
        .order_by(PolicyVersion.number.desc()).limit(1))


def version_of(session: Session, policy_id: int, number: int) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).where(
        PolicyVersion.policy_id == policy_id, PolicyVersion.number == number))


def _next_number(session: Session, policy_id: int) -> int:
    highest = session.scalar(select(func.max(PolicyVersion.number))
                             .where(PolicyVersion.policy_id == policy_id))
    return (highest or 0) + 1


def errors_in(text: str) -> list[rules.Diagnostic]:
    """The errors that stop a text from being published: checker errors and failing examples."""
    return [d for d in rules.check(text) if d.severity == "error"]


def create_policy(session: Session, market: Market, user: User) -> Policy:
    """Start a market's own policy as a draft copy of the shared default's published text."""
    if session.scalar(select(Policy).where(Policy.market_id == market.id)) is not None:
        raise PolicyChangeError("policy_exists")
    default = session.scalar(select(Policy).where(Policy.market_id.is_(None)))
    published = published_of(session, default.id) if default else None
    text = published.text if published else f'policy "{market.name}"\n\nelse manual_review\n'
    policy = Policy(market_id=market.id, name=f"{market.name} ({market.code})")
    session.add(policy)
    session.flush()
    session.add(PolicyVersion(policy_id=policy.id, number=1, status=PolicyStatus.DRAFT, text=text,
                              created_by_id=user.id))
    audit.record(session, "policy.created", "policy", policy.id, {"market": market.code}, actor=user)
    session.flush()
    return policy


def save_draft(session: Session, policy: Policy, text: str, token: str, user: User) -> PolicyVersion:
    """Store the editor's text as the policy's draft; refused when the draft changed since `token`."""
    text = text.replace("\r\n", "\n")
    if len(text.encode("utf-8")) > 256 * 1024:
        raise PolicyChangeError("too_long")
    draft = draft_of(session, policy.id)
    if draft is None:
        if token != NEW_DRAFT:
            raise PolicyChangeError("conflict")
        draft = PolicyVersion(policy_id=policy.id, number=_next_number(session, policy.id),
                              status=PolicyStatus.DRAFT, text=text, created_by_id=user.id)
        session.add(draft)
        try:
            session.flush()
        except IntegrityError as error:
            # Another manager started a draft at the same moment and took the number.
            session.rollback()
            raise PolicyChangeError("conflict") from error
        return draft
    if token != edit_token(draft):
        raise PolicyChangeError("conflict")
    # Conditional on the text we compared, so a save that raced ours in between is not overwritten.
    changed = rowcount(session.execute(update(PolicyVersion).where(
        PolicyVersion.id == draft.id, PolicyVersion.status == PolicyStatus.DRAFT,
        PolicyVersion.text == draft.text).values(text=text, created_by_id=user.id)))
    if changed != 1:
        raise PolicyChangeError("conflict")
    session.refresh(draft)
    return draft


def discard_draft(session: Session, policy: Policy, user: User) -> int:
    """Delete the draft (nothing ever decided with a draft); returns its number."""
    draft = draft_of(session, policy.id)
    if draft is None:
        raise PolicyChangeError("no_draft")
    number = draft.number
    session.delete(draft)
    audit.record(session, "policy.draft_discarded", "policy", policy.id, {"number": number}, actor=user)
    session.flush()
    return number


def clean_comment(comment: str) -> str:
    comment = (comment or "").strip()
    if not comment:
        raise PolicyChangeError("comment_required")
    if len(comment) > MAX_COMMENT:
        raise PolicyChangeError("comment_too_long", limit=MAX_COMMENT)
    return comment


def _archive_published(session: Session, policy_id: int) -> int | None:
    current = published_of(session, policy_id)
    session.execute(update(PolicyVersion).where(
        PolicyVersion.policy_id == policy_id, PolicyVersion.status == PolicyStatus.PUBLISHED)
        .values(status=PolicyStatus.ARCHIVED))
    return current.number if current else None


def publishable_draft(session: Session, policy: Policy, token: str) -> PolicyVersion:
    """The draft the manager reviewed, when it is still the draft and has no errors."""
    draft = draft_of(session, policy.id)
    if draft is None:
        raise PolicyChangeError("no_draft")
    if token != edit_token(draft):
        raise PolicyChangeError("conflict")
    problems = errors_in(draft.text)
    if problems:
        raise PolicyChangeError("invalid", count=len(problems))
    return draft


def publish(session: Session, policy: Policy, comment: str, token: str, user: User) -> PolicyVersion:
    """Publish the draft the manager reviewed; the one published before it is archived.

    A policy that needs a second manager's approval is published through policy_approval instead.
    """
    if policy.requires_approval:
        raise PolicyChangeError("approval_required")
    return publish_reviewed(session, policy, comment, token, user)


def publish_reviewed(session: Session, policy: Policy, comment: str, token: str, user: User) -> PolicyVersion:
    """Publish without asking for approval: for publish() and for an approved request."""
    comment = clean_comment(comment)
    draft = publishable_draft(session, policy, token)
    previous = _archive_published(session, policy.id)
    draft.status = PolicyStatus.PUBLISHED
    draft.comment = comment
    draft.published_at = utcnow()
    draft.published_by_id = user.id
    session.flush()
    audit.record(session, "policy.published", "policy_version", draft.id,
                 {"policy_id": policy.id, "number": draft.number, "previous": previous, "comment": comment},
                 actor=user)
    return draft


def rollback(session: Session, policy: Policy, number: int, comment: str, user: User) -> PolicyVersion:
    """Publish a copy of an old version as the newest number, so history only ever moves forward."""
    if policy.requires_approval:
        raise PolicyChangeError("approval_required_rollback")
    comment = clean_comment(comment)
    old = version_of(session, policy.id, number)
    if old is None or old.status == PolicyStatus.DRAFT:
        raise PolicyChangeError("no_such_version", number=number)
    if old.status == PolicyStatus.PUBLISHED:
        raise PolicyChangeError("already_published", number=number)
    # The vocabulary may have changed since the old version was written; it must still be valid today.
    problems = errors_in(old.text)
    if problems:
        raise PolicyChangeError("invalid", count=len(problems))
    draft = draft_of(session, policy.id)
    previous = _archive_published(session, policy.id)
    number_for_copy = _next_number(session, policy.id)
    if draft is not None:
        # The open draft moves up: numbers then read in the order things were published.
        number_for_copy, draft.number = draft.number, number_for_copy
        session.flush()
    copy = PolicyVersion(policy_id=policy.id, number=number_for_copy,
                         status=PolicyStatus.PUBLISHED, text=old.text, comment=comment,
                         created_by_id=user.id, published_at=utcnow(), published_by_id=user.id)
    session.add(copy)
    session.flush()
    audit.record(session, "policy.rolled_back", "policy_version", copy.id,
                 {"policy_id": policy.id, "number": copy.number, "copied_from": number, "previous": previous,
                  "comment": comment}, actor=user)
    return copy


def history(session: Session, policy_id: int, page: int = 1,
            size: int = 25) -> tuple[list[PolicyVersion], bool]:
    """Versions newest first, one page at a time; the flag says whether an older page exists."""
    rows = list(session.scalars(select(PolicyVersion).where(PolicyVersion.policy_id == policy_id)
                                .order_by(PolicyVersion.number.desc())
                                .offset((max(page, 1) - 1) * size).limit(size + 1)))
    return rows[:size], len(rows) > size


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed" or "skip" (unchanged lines left out)
    old_number: int | None
    new_number: int | None
    text: str


def diff(old_text: str, new_text: str, context: int = 3) -> list[DiffLine]:
    """What changed from `old_text` to `new_text`, line by line, with unchanged lines around each change."""
    old, new = old_text.splitlines(), new_text.splitlines()
    out: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if out or group[0][1] > 0:
            out.append(DiffLine("skip", None, None, ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(DiffLine("same", i + 1, j1 + k + 1, old[i]) for k, i in enumerate(range(i1, i2)))
                continue
            out.extend(DiffLine("removed", i + 1, None, old[i]) for i in range(i1, i2))
            out.extend(DiffLine("added", None, j + 1, new[j]) for j in range(j1, j2))
    return out

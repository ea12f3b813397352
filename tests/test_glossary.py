"""The Chinese UI says each key term with one word (the glossary's choice), and names actors in Chinese."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.factories import make_case, shop_with_market

from portal.domain.enums import CaseStatus, Role
from portal.domain.lifecycle import Actor, record
from portal.domain.models import CaseEvent, User
from rules.messages import MESSAGES

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "portal" / "translations" / "zh" / "glossary.toml"
CATALOG = ROOT / "portal" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
# Placeholders name values, not words: "%(case)s" and "{policy}" say nothing about the term.
PLACEHOLDERS = re.compile(r"%\(\w+\)[sd]|\{\w*\}|`[^`]*`")


def _terms() -> list[dict[str, Any]]:
    with GLOSSARY.open("rb") as handle:
        return list(tomllib.load(handle)["term"])


def _pairs() -> list[tuple[str, str]]:
    """(English, Chinese) for every translated UI text: the catalogue and the policy language's messages."""
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="zh")
    pairs = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs.extend((ids[0], text) for text in strings if text)
    pairs.extend(MESSAGES.values())
    return pairs


def problems(term: dict[str, Any], pairs: list[tuple[str, str]]) -> list[str]:
    words = "|".join(re.escape(w) for w in (term["english"], term.get("plural", "")) if w)
    english = re.compile(rf"\b(?:{words})\b", re.IGNORECASE)
    found = []
    for source, chinese in pairs:
        if not english.search(PLACEHOLDERS.sub(" ", source)):
            continue
        if term["chinese"] not in chinese:
            found.append(f"{source!r}: {chinese!r} does not say {term['chinese']}")
            continue
        # The chosen word may contain a shorter alternative's characters ("个案件"); look past it.
        rest = chinese.replace(term["chinese"], "|")
        found.extend(
            f"{source!r}: {chinese!r} says {word} instead of {term['chinese']}"
            for word in term["avoid"]
            if word in rest
        )
    return found


def test_glossary_names_each_term_once() -> None:
    terms = _terms()
    english = [t["english"] for t in terms]
    assert len(english) == len(set(english))
    assert {"policy", "case"} <= set(english)
    for term in terms:
        assert term["chinese"] and term["chinese"] not in term["avoid"]


@pytest.mark.parametrize("term", _terms(), ids=lambda t: t["english"])
def test_every_translation_uses_the_chosen_word(term: dict[str, Any]) -> None:
    assert problems(term, _pairs()) == []


def test_the_check_catches_an_alternative_and_a_missing_word() -> None:
    case = next(t for t in _terms() if t["english"] == "case")
    pairs = [
        ("Open the case", "打开工单"),
        ("Cases this week", "本周的个案"),
        ("%(count)s cases", "%(count)s 个案件"),
        ("Select %(case)s", "选择 %(case)s"),
        ("No case here", "这里没有"),
    ]
    assert problems(case, pairs) == [
        "'Open the case': '打开工单' does not say 案件",
        "'Cases this week': '本周的个案' does not say 案件",
        "'No case here': '这里没有' does not say 案件",
    ]
    mixed = problems(case, [("The case", "案件和工单")])
    assert mixed == ["'The case': '案件和工单' says 工单 instead of 案件"]


def test_actor_labels_read_in_the_viewers_language(
    login: Callable[[Role], FlaskClient], users: dict[Role, User], db: Session
) -> None:
    _shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-ZH1", status=CaseStatus.IN_REVIEW)
    record(db, case, Actor.system("outbox"), "note", {"text": "queued"})
    record(db, case, Actor.policy(2, 3, "cheap", None), "note", {"text": "decided"})
    record(db, case, Actor.system("carrier (AfterShip)"), "note", {"text": "tracked"})
    users[Role.CS_AGENT].locale = "zh"
    db.commit()
    page = login(Role.CS_AGENT).get("/cases/AS-ZH1").get_data(as_text=True)
    assert '<span class="detail">发件箱 — ' in page
    assert '<span class="detail">政策 v2 第 3 行 “cheap” — ' in page
    assert '<span class="detail">物流商（AfterShip） — ' in page
    # People are named as they are, and the stored labels stay English for the signed audit log.
    stored = select(CaseEvent.actor_label).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    assert db.scalars(stored).all() == [
        "outbox",
        "policy v2 line 3 “cheap”",
        "carrier (AfterShip)",
    ]

"""The policy-language docs stay true: every word is documented and every example policy checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rules
from rules.vocabulary import ACTIONS, DURATION_UNITS, EVENTS, FIELDS, KEYWORDS, OPERATORS

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC_FILES = ["policy-language.md", "policy-language.zh-CN.md"]
WORDS = sorted({*FIELDS, *ACTIONS, *EVENTS, *KEYWORDS, *DURATION_UNITS})


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _backticked(text: str) -> set[str]:
    found: set[str] = set()
    for span in re.findall(r"`([^`\n]+)`", text):
        found.update(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*|[=!<>]=|[<>+\-*/]", span))
        found.add(span)
    return found


@pytest.mark.parametrize("doc", DOC_FILES)
@pytest.mark.parametrize("word", WORDS)
def test_every_vocabulary_word_is_documented(doc: str, word: str) -> None:
    assert word in _backticked(_read(doc)), f"`{word}` is missing from {doc}"


@pytest.mark.parametrize("doc", DOC_FILES)
@pytest.mark.parametrize("op", OPERATORS)
def test_every_operator_is_documented(doc: str, op: str) -> None:
    assert f"`{op}`" in _read(doc) or op in _backticked(_read(doc))


def _policies() -> list[tuple[str, int, str]]:
    found = []
    for doc in DOC_FILES:
        text = _read(doc)
        for match in re.finditer(r"```policy\n(.*?)```", text, re.S):
            found.append((doc, text[: match.start()].count("\n") + 1, match.group(1)))
    return found


def test_docs_have_example_policies() -> None:
    assert len(_policies()) >= 20


@pytest.mark.parametrize("doc, line, policy", _policies(), ids=lambda v: str(v)[:30])
def test_every_example_policy_in_the_docs_checks(doc: str, line: int, policy: str) -> None:
    errors = [d.format(f"{doc}+{line}") for d in rules.check(policy) if d.severity == "error"]
    assert errors == []

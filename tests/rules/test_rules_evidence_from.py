"""The `evidence.from` fact: on `evidence_added`, a policy tells the buyer's evidence from an agent's."""

from __future__ import annotations

from typing import Any

import pytest

import rules

POLICY = """on evidence_added:
  if evidence.from == "buyer" and evidence.photos >= 1 then approve_return
  if evidence.from in ["agent", "platform"] then manual_review
"""


@pytest.mark.parametrize(
    "evidence, actions, line",
    [
        ({"from": "buyer", "photos": 1, "videos": 0}, ["approve_return"], 2),
        ({"from": "agent", "photos": 1, "videos": 0}, ["manual_review"], 3),
        ({"from": "platform", "photos": 0, "videos": 0}, ["manual_review"], 3),
        # No evidence at all: the fact is missing, no rule fires, and a person looks.
        ({"photos": 0, "videos": 0}, ["manual_review"], None),
    ],
)
def test_evidence_from_decides_evidence_added(
    evidence: dict[str, Any], actions: list[str], line: int | None
) -> None:
    decision = rules.compile_policy(POLICY).decide({"evidence": evidence}, event="evidence_added")
    assert [action.name for action in decision.actions] == actions
    assert (decision.rule.line if decision.rule else None) == line


def test_an_unknown_origin_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(rules.PolicyError) as raised:
        rules.compile_policy('on evidence_added:\n  if evidence.from == "agnet" then manual_review\n')
    (error,) = raised.value.errors
    assert error.line == 2 and "agnet" in error.message and "agent" in error.message


def test_evidence_from_is_missing_rather_than_false_when_absent() -> None:
    policy = rules.compile_policy(
        'if evidence.from != "buyer" then hold\nif evidence.from is missing then escalate'
    )
    assert [a.name for a in policy.decide({}).actions] == ["escalate"]
    assert [a.name for a in policy.decide({"evidence": {"from": "agent"}}).actions] == ["hold"]

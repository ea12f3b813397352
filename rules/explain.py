"""Explanations of a decision: the compact record deciding makes, its JSON form, and a short text in
English or Simplified Chinese.

An explanation is a dict with `section`, `outcome`, `rule`, `parts`, `earlier` and `event`. As a
decision makes it, its inner records are tuples, built by the compiled policy in one step each, and
facts are kept as they were read: `rule` is `(line, name)`, each part `(text, result, values)` with
the result True, False or None, each value `(field, raw value, status)`, each earlier rule
`(line, name, result, part)` with the result "false" or "unknown". Decisions share entries that hold
only texts, numbers and None. `expand` gives the JSON form that is stored and shown: an object for each
record, results as words, every value as JSON (amounts as numbers); it accepts either form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .decision import actions_text, json_value

if TYPE_CHECKING:
    from .decision import Decision


def no_section(event: str) -> dict[str, Any]:
    """The explanation when the policy has no section for the event (a compiled section writes its own)."""
    return {
        "section": None, "outcome": "no_section", "rule": None, "parts": (), "earlier": [], "event": event
    }


# JSON shows these as they are; anything else (Decimal amounts, odd facts) goes through json_value.
_PLAIN = frozenset({str, int, bool, float, type(None)})
_WORDS = {True: "true", False: "false", None: "unknown"}


def expand(info: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of an explanation, compact or already expanded (as stored by earlier versions).

    Built from a compact explanation (what a decision makes), every object and list in it is new, the
    caller's own to change or store; records already in the JSON form are passed through as they are.
    """
    rule = info["rule"]
    return {
        "section": info["section"],
        "outcome": info["outcome"],
        "rule": {"line": rule[0], "name": rule[1]} if type(rule) is tuple else rule,
        "parts": [_part(p) for p in info["parts"]],
        "earlier": [
            {"line": e[0], "name": e[1], "result": e[2], "part": _part(e[3])} if type(e) is tuple else e
            for e in info["earlier"]
        ],
        "event": info["event"],
    }


def _part(part: Any) -> Any:
    if type(part) is not tuple:
        return part
    text, result, values = part
    shown = []
    for record in values:
        if type(record) is tuple:
            field, value, status = record
            if type(value) not in _PLAIN:
                value = json_value(value)
            record = {"field": field, "value": value, "status": status}
        shown.append(record)
    return {"text": text, "result": _WORDS[result], "values": shown}


_TEXT = {
    "en": {
        "rule": "Event {event}: the rule on line {line}{name} decided: {actions}.",
        "else": "Event {event}: no rule applied, so `else` on line {line} decided: {actions}.",
        "no_match": "Event {event}: no rule applied and there is no `else`, so a person looks: {actions}.",
        "no_section": "Event {event}: the policy has no section for this event, so a person looks: "
        "{actions}.",
        "why": "Why:",
        "earlier": "Earlier rules that did not apply:",
        "line": "line {line}{name}: {text} is {result}",
        "true": "true",
        "false": "false",
        "unknown": "unknown",
        "present": "{field} = {value}",
        "missing": "{field} is missing",
        "wrong type": "{field} has the wrong type ({value})",
        "named": ' "{name}"',
    },
    "zh": {
        "rule": "事件 {event}：第 {line} 行的规则{name}作出决定：{actions}。",
        "else": "事件 {event}：没有规则成立，因此由第 {line} 行的 `else` 决定：{actions}。",
        "no_match": "事件 {event}：没有规则成立，也没有 `else`，因此转人工：{actions}。",
        "no_section": "事件 {event}：政策中没有这个事件的段落，因此转人工：{actions}。",
        "why": "原因：",
        "earlier": "之前未成立的规则：",
        "line": "第 {line} 行{name}：{text} 为{result}",
        "true": "真",
        "false": "假",
        "unknown": "未知",
        "present": "{field} = {value}",
        "missing": "{field} 缺失",
        "wrong type": "{field} 类型不对（{value}）",
        "named": "「{name}」",
    },
}


def _values(part: Mapping[str, Any], t: Mapping[str, str]) -> str:
    shown = []
    for v in part["values"]:
        value = v["value"]
        text = (
            f'"{value}"'
            if isinstance(value, str)
            else ("true" if value is True else "false" if value is False else str(value))
        )
        shown.append(t[v["status"]].format(field=v["field"], value=text))
    return f" ({', '.join(shown)})" if shown else ""


def render_explanation(decision: Decision, lang: str = "en") -> str:
    t = _TEXT["zh" if lang.lower().startswith("zh") else "en"]
    info = expand(decision.explanation)
    ref = info["rule"] or {}
    name = t["named"].format(name=ref["name"]) if ref.get("name") else ""
    lines = [
        t[info["outcome"]].format(
            event=decision.event, line=ref.get("line"), name=name, actions=actions_text(decision.actions)
        )
    ]
    if info["parts"]:
        lines.append(t["why"])
        for part in info["parts"]:
            lines.append(f"  {part['text']}: {t[part['result']]}{_values(part, t)}")
    if info["earlier"]:
        lines.append(t["earlier"])
        for item in info["earlier"]:
            label = t["named"].format(name=item["name"]) if item["name"] else ""
            part = item["part"]
            lines.append(
                "  "
                + t["line"].format(line=item["line"], name=label, text=part["text"], result=t[part["result"]])
                + _values(part, t)
            )
    return "\n".join(lines)

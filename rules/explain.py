"""Explanations of a decision: a JSON-ready record and a short text in English or Simplified Chinese."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .decision import actions_text

if TYPE_CHECKING:
    from .decision import Decision


def no_section(event: str) -> dict[str, Any]:
    """The explanation when the policy has no section for the event (a compiled section writes its own)."""
    return {
        "section": None, "outcome": "no_section", "rule": None, "parts": [], "earlier": [], "event": event
    }


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
    info = decision.explanation
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

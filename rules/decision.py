"""What deciding a case returns: actions with their arguments, the deciding rule, and the explanation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any

from .nodes import format_number, quote


@dataclass(frozen=True, slots=True)
class Percent:
    value: int | Decimal

    def to_json(self) -> dict[str, Any]:
        return {"percent": json_number(self.value)}


@dataclass(frozen=True, slots=True)
class Duration:
    seconds: int

    def to_json(self) -> dict[str, Any]:
        return {"seconds": self.seconds}


ArgValue = str | int | Decimal | bool | Percent | Duration


def json_number(value: int | Decimal) -> int | float:
    """A finite number as JSON: a whole Decimal as an int, any other as the nearest float."""
    if isinstance(value, Decimal):
        # One exact ratio instead of a rounding and a compare, and float() going through a string: the
        # true division of two ints rounds correctly, to the same float.
        numerator, denominator = value.as_integer_ratio()
        if denominator == 1:
            return numerator
        try:
            return numerator / denominator
        except OverflowError:
            return float(value)
    return value


def json_value(value: Any) -> Any:
    """A fact or argument as JSON: Decimal becomes a number, percentages and durations objects."""
    if type(value) is Decimal:
        # The common case first: money read from the database (json_number, written out: explanations
        # show a lot of money).
        if not value.is_finite():
            return str(value)
        numerator, denominator = value.as_integer_ratio()
        if denominator == 1:
            return numerator
        try:
            return numerator / denominator
        except OverflowError:
            return float(value)
    if isinstance(value, Percent | Duration):
        return value.to_json()
    if isinstance(value, Decimal):
        return json_number(value) if value.is_finite() else str(value)
    if isinstance(value, list | tuple | frozenset | set):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


@dataclass(frozen=True, slots=True)
class Action:
    """One action of a decision: `Action("reject", ("Outside the window",))`."""

    name: str
    args: tuple[ArgValue, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "args": [json_value(a) for a in self.args]}

    def to_text(self) -> str:
        return " ".join([self.name, *(_arg_text(a) for a in self.args)])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Action:
        """The inverse of `to_dict`, for decisions read back from storage."""
        return cls(str(data["name"]), tuple(_arg_from_json(a) for a in data.get("args", [])))


def _arg_from_json(value: Any) -> ArgValue:
    if isinstance(value, dict) and "percent" in value:
        return Percent(Decimal(str(value["percent"])))
    if isinstance(value, dict) and "seconds" in value:
        return Duration(int(value["seconds"]))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def _arg_text(arg: ArgValue) -> str:
    if isinstance(arg, str):
        return quote(arg)
    if isinstance(arg, Percent):
        return format_number(arg.value) + "%"
    if isinstance(arg, Duration):
        for unit, size in (("weeks", 604_800), ("days", 86_400), ("hours", 3_600), ("minutes", 60)):
            if arg.seconds % size == 0:
                return f"{arg.seconds // size} {unit}"
        return f"{arg.seconds / 60:g} minutes"
    if isinstance(arg, bool):
        return "true" if arg else "false"
    return format_number(arg)


def actions_text(actions: list[Action] | tuple[Action, ...]) -> str:
    return ", ".join(a.to_text() for a in actions) or "(nothing)"


@dataclass(frozen=True, slots=True)
class RuleRef:
    """The deciding rule: its line, and its name if it has one (an `else` has none)."""

    line: int
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "name": self.name}


class Decision(tuple):  # type: ignore[type-arg]
    """The outcome of decide(); the explanation is worked out only when first asked for.

    A tuple underneath, `(event, actions, rule, explain, *args)`, so that the compiled policy makes
    one with a single C call (`tuple.__new__`) instead of running an `__init__`: that was a fifth of
    what deciding cost.
    """

    event: str
    actions: list[Action]
    rule: RuleRef | None

    def __new__(
        cls,
        event: str,
        actions: list[Action],
        rule: RuleRef | None,
        explain: Callable[..., dict[str, Any]],
        args: tuple[Any, ...] = (),
    ) -> Decision:
        """`explain(*args)` builds the explanation; deciding passes what it knows as `args`."""
        return tuple.__new__(cls, (event, actions, rule, explain, *args))

    @property
    def explanation(self) -> dict[str, Any]:
        """Each part of the deciding rule with values and results; why earlier rules did not apply.

        Compact, as `rules.explain` describes it; `to_dict()` has its JSON form.
        """
        kept = self.__dict__
        explanation: dict[str, Any] | None = kept.get("explanation")
        if explanation is None:
            explanation = kept["explanation"] = self[3](*self[4:])
        return explanation

    def to_dict(self, explanation: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event": self.event,
            "actions": [a.to_dict() for a in self.actions],
            "rule": self.rule.to_dict() if self.rule else None,
        }
        if explanation:
            from .explain import expand

            out["explanation"] = expand(self.explanation)
        return out

    def explain_text(self, lang: str = "en") -> str:
        from .explain import render_explanation

        return render_explanation(self, lang)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """A stored decision (`to_dict` with its explanation) back as a Decision, e.g. to explain it again.

        Its explanation stays in the JSON form it was stored in; `expand` and the text accept either form.
        """
        rule = data.get("rule")
        explanation = data["explanation"]
        return cls(str(data["event"]), [Action.from_dict(a) for a in data.get("actions", [])],
                   RuleRef(int(rule["line"]), rule.get("name")) if rule else None, lambda: explanation)

    def __repr__(self) -> str:
        return f"Decision(event={self.event!r}, actions={self.actions!r}, rule={self.rule!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return self[:3] == other[:3]

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]
    __lt__ = __le__ = __gt__ = __ge__ = None  # type: ignore[assignment]


# Read by position: C-level getters, as fast as attribute slots.
Decision.event = property(itemgetter(0), doc="The event decided on.")  # type: ignore[assignment]
Decision.actions = property(itemgetter(1), doc="The actions, in order.")  # type: ignore[assignment]
Decision.rule = property(itemgetter(2), doc="The deciding rule, None for `else` or none.")  # type: ignore[assignment]

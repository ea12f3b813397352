"""Diagnostics (errors and warnings with a position and a caret excerpt) and PolicyError."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .messages import render

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a policy. `message` is English; render(code, params, "zh") gives Chinese."""

    line: int
    column: int
    message: str
    severity: str = ERROR
    excerpt: str = ""
    suggestion: str | None = None
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    # Extra lines shown under the excerpt, such as an example's explanation.
    detail: str = ""

    def render(self, lang: str = "en") -> str:
        return render(self.code, self.params, lang) if self.code else self.message

    def format(self, filename: str = "<policy>", lang: str = "en") -> str:
        """`FILE:LINE:COL: error: MESSAGE`, then the excerpt and any detail, indented."""
        lines = [f"{filename}:{self.line}:{self.column}: {self.severity}: {self.render(lang)}"]
        lines += ["    " + part for part in self.excerpt.splitlines()]
        lines += ["    " + part for part in self.detail.splitlines()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "message": self.message,
            "code": self.code,
            "params": dict(self.params),
            "suggestion": self.suggestion,
            "excerpt": self.excerpt,
            "detail": self.detail,
        }


class PolicyError(Exception):
    """Raised by compile_policy(); `.errors` lists every error, `.warnings` the warnings."""

    def __init__(self, errors: list[Diagnostic], warnings: list[Diagnostic] | None = None) -> None:
        self.errors = errors
        self.warnings = warnings or []
        first = errors[0] if errors else None
        summary = f"{first.line}:{first.column}: {first.message}" if first else "invalid policy"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(summary + more)


def excerpt(source_lines: list[str], line: int, column: int) -> str:
    """The source line and a caret under the column; tabs and wide characters keep it aligned."""
    if not 1 <= line <= len(source_lines):
        return ""
    text = source_lines[line - 1].rstrip("\r\n")
    pad = []
    for ch in text[: max(column - 1, 0)]:
        if ch == "\t":
            pad.append("\t")
        elif unicodedata.east_asian_width(ch) in ("W", "F"):
            pad.append("  ")
        else:
            pad.append(" ")
    return text + "\n" + "".join(pad) + "^"


def suggest(word: str, vocabulary: Iterable[str]) -> str | None:
    """The nearest valid word, for "did you mean …"; case differences count as near."""
    words = list(vocabulary)
    for candidate in words:
        if candidate.lower() == word.lower():
            return candidate
    found = difflib.get_close_matches(word, words, n=1, cutoff=0.6)
    if not found:
        lowered = {w.lower(): w for w in words}
        found = [lowered[m] for m in difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)]
    return found[0] if found else None


class Reporter:
    """Collects diagnostics for one policy text."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines() or [""]
        self.items: list[Diagnostic] = []
        self._errors = 0

    def add(
        self, line: int, column: int, code: str, severity: str = ERROR, detail: str = "", **params: Any
    ) -> Diagnostic:
        params = {k: v for k, v in params.items() if v is not None}
        diag = Diagnostic(
            line=line,
            column=column,
            message=render(code, params, "en"),
            severity=severity,
            excerpt=excerpt(self.lines, line, column),
            suggestion=params.get("suggestion"),
            code=code,
            params=params,
            detail=detail,
        )
        self.items.append(diag)
        self._errors += severity == ERROR
        return diag

    def error(self, node: Any, code: str, **params: Any) -> Diagnostic:
        return self.add(node.line, node.column, code, **params)

    def warning(self, node: Any, code: str, **params: Any) -> Diagnostic:
        return self.add(node.line, node.column, code, severity=WARNING, **params)

    def error_count(self) -> int:
        return self._errors

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: (d.line, d.column))

"""Bidi overrides and zero-width characters in stored text, shown as visible markers instead of obeyed."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from markupsafe import Markup, escape

# Direction overrides, embeddings and isolates, direction marks, zero-width spaces and joiners, the
# invisible operators and the BOM. A zero-width joiner between two emoji is left alone: it is how 👩‍👩‍👧
# is written.
_EMOJI = "\u2600-\u27bf\U0001f000-\U0001faff"
_HIDDEN = re.compile(
    "[\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u061c\u180e]"
    f"|\u200d(?![{_EMOJI}])|(?<![{_EMOJI}])\u200d"
)


def _marker(match: re.Match[str]) -> str:
    return f"⟨U+{ord(match.group()):04X}⟩"


def reveal(text: str) -> str:
    """`text` with every hidden formatting character replaced by a marker such as ⟨U+202E⟩."""
    return _HIDDEN.sub(_marker, text)


_WORD = re.compile(r"\S+")


def breakable(value: Any, every: int = 30) -> Markup:
    """Escaped, revealed text with a line-break opportunity (<wbr>) every `every` characters of a long word.

    PDF layout tries each character as a break point under `word-break: break-all`, which made one
    4,000-character word take minutes; a few explicit opportunities keep it to milliseconds.
    """
    if isinstance(value, Markup):
        return Markup(finalize(value))  # already HTML (a link, a <time>): only reveal hidden characters
    raw = reveal(str(value))
    parts, last = [], 0
    for match in _WORD.finditer(raw):
        word = match.group()
        if len(word) <= every:
            continue
        parts.append(escape(raw[last : match.start()]))
        parts.append(Markup("<wbr>").join(escape(word[i : i + every]) for i in range(0, len(word), every)))
        last = match.end()
    parts.append(escape(raw[last:]))
    return Markup("").join(parts)


def finalize(value: Any) -> Any:
    """Jinja's finalize: every `{{ … }}` of every template (pages, fragments and PDFs) goes through here.

    The markers hold no HTML-special character, so already-escaped Markup (a translated sentence
    with a buyer's words in it) can be rewritten safely too.
    """
    if isinstance(value, str) and _HIDDEN.search(value):
        shown = reveal(value)
        return Markup(shown) if isinstance(value, Markup) else shown
    return value


def init_app(app: Flask) -> None:
    app.jinja_env.finalize = finalize
    app.jinja_env.filters["visible"] = reveal
    app.jinja_env.filters["breakable"] = breakable

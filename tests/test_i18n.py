"""The portal ships in English and Simplified Chinese: every UI string has a translation."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "portal" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _extracted() -> set[str]:
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / "portal", method_map=method_map, keywords=keywords):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog() -> dict[str, str]:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="zh")
    out = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        out[key] = message.string[0] if isinstance(message.string, tuple) else message.string
    return out


def test_every_ui_string_is_translated_into_chinese() -> None:
    catalog = _catalog()
    missing = sorted(message for message in _extracted() if not catalog.get(message))
    assert missing == [], f"add these to {CATALOG.relative_to(ROOT)}: {missing}"


def test_translations_keep_their_placeholders() -> None:
    for source, translated in _catalog().items():
        if not translated:
            continue  # missing translations are the other test's business
        assert set(PLACEHOLDER.findall(source)) == set(PLACEHOLDER.findall(translated)), source

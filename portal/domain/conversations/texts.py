"""Shipped default texts for buyers, translated through the `buyer` gettext catalogues.

The buyer is not a portal user, so these are translated into the buyer's language, not the viewer's.
English is the source text; `portal/translations/<lang>/LC_MESSAGES/buyer.po` holds the others.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

DOMAIN = "buyer"
# The languages buyers get texts in; anything else falls back to English.
LANGUAGES = ("en", "de", "ms", "zh")
DEFAULT_LANGUAGE = "en"
_DIRECTORY = Path(__file__).resolve().parents[2] / "translations"


def buyer_text(text: str) -> str:
    """Marks a source text for the `buyer` catalogue (`make translations-extract` finds these)."""
    return text


def buyer_language(language: str | None) -> str:
    """The buyer language for a language tag: its primary subtag when we have texts for it, else English."""
    primary = (language or DEFAULT_LANGUAGE).replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


@cache
def catalogue(language: str) -> NullTranslations:
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()
    return Translations.load(str(_DIRECTORY), [language], domain=DOMAIN)


def translate(text: str, language: str, context: str | None = None) -> str:
    """`text` in the buyer's `language`; English when the catalogue has no translation."""
    translations = catalogue(buyer_language(language))
    if context is None:
        return translations.ugettext(text)
    return translations.upgettext(context, text)

"""Language identification of ticket text (the cleaning itself is knowledge.text)."""

from __future__ import annotations

import re
from functools import cache

from py3langid.langid import LanguageIdentifier, _load_identifier

#: Languages a helpdesk typically sees; restricting the identifier makes short texts far more reliable.
SUPPORTED_LANGUAGES = (
    "en",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "sv",
    "da",
    "no",
    "fi",
    "pl",
    "cs",
    "tr",
    "ru",
    "ja",
    "zh",
    "ko",
)

#: Language identification settles within a few hundred characters; more only costs time.
LANGUAGE_CHARS = 2_000


@cache
def _identifier() -> LanguageIdentifier:
    return _load_identifier(norm_probs=True, langs=list(SUPPORTED_LANGUAGES))


def detect_language(text: str) -> tuple[str, float]:
    """ISO 639-1 code and its probability; ("und", 0.0) when there is no text to judge."""
    text = text[:LANGUAGE_CHARS]
    if not re.search(r"\w{2,}", text):
        return "und", 0.0
    language, probability = _identifier().classify(text)
    return str(language), float(probability)

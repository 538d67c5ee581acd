"""Client text made safe to show on the review page: the one place it is cleaned.

Tickets arrive from customers and helpdesks as they are: a body can be an HTML fragment (a generic
sender, a Zendesk trigger that places the HTML description), a subject can carry a right-to-left
override that reverses what follows it. Everything the review API returns passes through
`for_display`: bidi embedding/override/isolate controls, zero-width characters and C0/C1 controls
are removed (tab and newline stay), so no text can reorder or hide the page around it; a body that is
HTML is shown as its visible text. The page then writes every string with textContent, never as
markup, and marks user text `dir="auto"` so legitimate right-to-left text still reads correctly.

Zero-width joiner and non-joiner (U+200D, U+200C) are kept: emoji sequences and Persian or Indic
words need them, and they cannot move text. What is stored is never changed; only what is shown.
"""

from __future__ import annotations

import re
from typing import Any

from tools.helpdesk.normalise import html_to_text

_REMOVED = (
    *range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0),  # C0/C1 controls but \t \n \r
    0x061C, 0x200E, 0x200F,  # Arabic letter mark, LRM, RLM
    *range(0x202A, 0x202F),  # LRE, RLE, PDF, LRO, RLO
    *range(0x2066, 0x206A),  # LRI, RLI, FSI, PDI
    0x200B, 0x2060, 0xFEFF, 0x180E, 0x00AD,  # zero-width space, word joiner, BOM, Mongolian vowel separator, SHY
    *range(0x206A, 0x2070),  # deprecated shaping and digit controls
)  # fmt: skip
_TABLE: dict[int, str | None] = {cp: None for cp in _REMOVED}
_TABLE.update({0x0D: "\n", 0x2028: "\n", 0x2029: "\n\n"})

#: Tags that only markup uses; a stray "<3" or "a < b" in a plain-text ticket does not match.
_HTML_TAG = re.compile(
    r"<\s*/?\s*(?:!doctype|html|head|body|p|div|span|br|hr|a|img|script|style|table|tbody|tr|td|th|ul|ol|li|b|i|u|"
    r"em|strong|font|blockquote|pre|code|h[1-6]|iframe|svg|object|embed|form|input|meta|link)\b[^<>]{0,2000}>",
    re.IGNORECASE,
)
#: Only the head of a body decides whether it is markup: the check stays bounded on a huge body.
_SNIFF_CHARS = 20_000


def display_text(text: str) -> str:
    """The text without the characters that can reorder or hide what is shown around it."""
    return text.replace("\r\n", "\n").translate(_TABLE)


def looks_like_html(text: str) -> bool:
    return _HTML_TAG.search(text[:_SNIFF_CHARS]) is not None


def display_body(text: str) -> str:
    """A ticket body as the customer saw it: an HTML body becomes its visible text (no script, no tags)."""
    return display_text(html_to_text(text) if looks_like_html(text) else text)


def for_display(value: Any) -> Any:
    """Every string in a JSON-ready value (keys included) through `display_text`."""
    if isinstance(value, str):
        return display_text(value)
    if isinstance(value, dict):
        return {for_display(k) if isinstance(k, str) else k: for_display(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [for_display(v) for v in value]
    return value


def ticket_for_display(ticket: dict[str, Any]) -> dict[str, Any]:
    shown = for_display(ticket)
    if isinstance(ticket.get("body"), str):
        shown["body"] = display_body(ticket["body"])
    return shown

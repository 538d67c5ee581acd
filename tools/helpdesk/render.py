"""Plain-text replies and notes as each helpdesk channel takes them.

Drafts and notes are plain text (agent/markdown_text.py). Zendesk (`html_body`), Intercom and Freshdesk
bodies are HTML: there every character of customer or KB text is escaped, blank lines become paragraphs,
line breaks `<br>`, and http(s) addresses links, so no text can ever turn into markup. Jira Service
Management comments take the text as it is.
"""

from __future__ import annotations

import html
import re

# Addresses end before whitespace, quotes or angle brackets; trailing sentence punctuation is not theirs.
_URL = re.compile(r"https?://[^\s<>\"'`]+")
_TRAILING = ".,;:!?)]}’”"


def to_plain(text: str) -> str:
    """The text with Windows line endings normalised and the ends trimmed."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _line(line: str) -> str:
    out: list[str] = []
    position = 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(_TRAILING)
        out.append(html.escape(line[position : match.start()]))
        out.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>')
        position = match.start() + len(url)
    out.append(html.escape(line[position:]))
    return "".join(out)


def to_html(text: str) -> str:
    """Plain text as minimal, escaped HTML: `<p>` per paragraph, `<br>` per line break, links for URLs."""
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", to_plain(text)) if p.strip()]
    return "".join("<p>" + "<br>".join(_line(line) for line in p.strip().split("\n")) + "</p>" for p in paragraphs)

"""Markdown (KB articles, LLM output) as the plain text a reply body holds.

Headings become plain lines, emphasis markers go, lists keep "- " / "1. " markers, links read
"text (url)", code fences go but their content stays. The text is parsed once with markdown-it (one
linear pass over its tokens), never rewritten with regexes; helpdesk connectors render this plain text
for their channel (tools/helpdesk/render.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

#: Replies and KB chunks are short; anything longer is cut before parsing so the work stays bounded.
MAX_MARKDOWN_CHARS = 50_000

_PARSER = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


@dataclass
class _ListLevel:
    ordered: bool
    number: int


@dataclass
class _Writer:
    parts: list[str] = field(default_factory=list)
    lists: list[_ListLevel] = field(default_factory=list)
    in_item: int = 0

    @property
    def indent(self) -> str:
        return "   " * max(len(self.lists) - 1, 0)

    def end_block(self, tight: bool = False) -> None:
        self.parts.append("\n" if tight else "\n\n")


def _inline(token: Token, indent: str) -> str:
    out: list[str] = []
    links: list[str] = []
    for child in token.children or []:
        kind = child.type
        if kind in ("text", "code_inline", "html_inline"):
            out.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n" + indent)
        elif kind == "link_open":
            links.append(str(child.attrGet("href") or ""))
            out.append("\x00")  # where the link text starts, to compare it with the address
        elif kind == "link_close" and links:
            href = links.pop()
            start = len(out) - 1 - out[::-1].index("\x00")
            text = "".join(out[start + 1 :])
            out[start:] = [text if not href or text.strip() == href else f"{text} ({href})"]
        elif kind == "image":
            alt = "".join(c.content for c in child.children or []) or child.content
            src = str(child.attrGet("src") or "")
            out.append(f"{alt} ({src})" if alt and src else alt or src)
    return "".join(out)


def markdown_to_text(markdown: str) -> str:
    tokens = _PARSER.parse(markdown[:MAX_MARKDOWN_CHARS])
    w = _Writer()
    row: list[str] = []
    for index, token in enumerate(tokens):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            if w.lists and w.parts and not w.parts[-1].endswith("\n"):
                w.end_block(tight=True)
            w.lists.append(_ListLevel(kind == "ordered_list_open", int(token.attrGet("start") or 1)))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            w.lists.pop()
            if not w.lists:
                w.end_block(tight=True)
        elif kind == "list_item_open":
            level = w.lists[-1]
            w.parts.append(w.indent + (f"{level.number}. " if level.ordered else "- "))
            level.number += 1
        elif kind == "inline":
            text = _inline(token, w.indent + "   " if w.lists else "")
            if tokens[index - 1].type == "th_open" or tokens[index - 1].type == "td_open":
                row.append(text.strip())
            else:
                w.parts.append(text)
        elif kind in ("paragraph_close", "heading_close"):
            w.end_block(tight=token.hidden)
        elif kind in ("fence", "code_block"):
            lines = token.content.rstrip("\n").split("\n")
            w.parts.append("\n".join(w.indent + line for line in lines))
            w.end_block(tight=bool(w.lists))
        elif kind == "tr_close":
            w.parts.append(" | ".join(row) + "\n")
            row = []
        elif kind == "table_close":
            w.end_block(tight=True)
    return _tidy("".join(w.parts))


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue  # at most one blank line in a row
        out.append(line)
    return "\n".join(out).strip()

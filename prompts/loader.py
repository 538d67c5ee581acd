"""Prompt and template files: render them and report a content hash as the prompt version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

PROMPT_DIR = Path(__file__).parent


@dataclass(frozen=True)
class RenderedPrompt:
    name: str
    version: str
    text: str


@cache
def _load(name: str) -> tuple[str, str]:
    path = PROMPT_DIR / f"{name}.md"
    if not path.is_file():
        raise FileNotFoundError(f"no prompt named {name!r} in {PROMPT_DIR}")
    text = path.read_text(encoding="utf-8")
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def version(name: str) -> str:
    return _load(name)[1]


def render(name: str, **values: object) -> RenderedPrompt:
    """Fill `$placeholders`; a placeholder without a value is an error, not silent empty text."""
    text, digest = _load(name)
    return RenderedPrompt(name=name, version=digest, text=Template(text).substitute(values).strip() + "\n")

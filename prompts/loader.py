"""Prompt and template files: render them and report a content hash as the prompt version.

Templates are Markdown (`<name>.md`); phrasebooks, the short language-specific lines a template is
assembled from, are TOML (`<name>.toml`, string values only).
"""

from __future__ import annotations

import hashlib
import tomllib
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


@dataclass(frozen=True)
class Phrasebook:
    name: str
    version: str
    phrases: dict[str, str]

    def __call__(self, key: str, **values: object) -> str:
        """The phrase `key` with its `$placeholders` filled; a missing key or value is an error."""
        if key not in self.phrases:
            raise KeyError(f"phrasebook {self.name!r} has no phrase {key!r}")
        return Template(self.phrases[key]).substitute(values)


@cache
def _load(name: str, suffix: str = ".md") -> tuple[str, str]:
    path = PROMPT_DIR / f"{name}{suffix}"
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


def exists(name: str, suffix: str = ".md") -> bool:
    return (PROMPT_DIR / f"{name}{suffix}").is_file()


@cache
def phrasebook(name: str) -> Phrasebook:
    text, digest = _load(name, ".toml")
    data = tomllib.loads(text)
    wrong = [key for key, value in data.items() if not isinstance(value, str)]
    if wrong:
        raise ValueError(f"phrasebook {name!r}: {', '.join(wrong)} must be strings")
    return Phrasebook(name=name, version=digest, phrases=data)

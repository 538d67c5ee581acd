"""The helpdesk's taxonomy: queues and categories with descriptions, and which categories may be
auto-resolved. Read from a TOML file (`[categories.<name>]`, `[queues.<name>]`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError


class TaxonomyError(ValueError):
    """The taxonomy file is unreadable or malformed; the message names the file and field."""


class CategorySpec(BaseModel):
    queue: str | None = None
    description: str = ""
    auto_resolvable: bool = False


class QueueSpec(BaseModel):
    description: str = ""


class Taxonomy(BaseModel):
    categories: dict[str, CategorySpec] = Field(default_factory=dict)
    queues: dict[str, QueueSpec] = Field(default_factory=dict)

    @property
    def auto_resolvable(self) -> frozenset[str]:
        return frozenset(name for name, spec in self.categories.items() if spec.auto_resolvable)

    @classmethod
    def load(cls, path: Path) -> Taxonomy:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise TaxonomyError(f"{path}: {exc}") from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise TaxonomyError(f"{path}: {where}: {first['msg']}") from exc

"""The helpdesk's taxonomy: queues and categories with descriptions, and which categories may be
auto-resolved. Read from a TOML file (`[categories.<name>]`, `[queues.<name>]`) and kept in the history
database, so every process on every host reads the same one."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, ValidationError

if TYPE_CHECKING:
    from knowledge.history import History

TAXONOMY_SCHEMA = """
CREATE TABLE IF NOT EXISTS taxonomy (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    installed_at TEXT NOT NULL
);
"""


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


def save_taxonomy(history: History, taxonomy: Taxonomy, name: str = "default") -> None:
    with history.transaction() as conn:
        conn.execute(
            "INSERT INTO taxonomy (name, data, installed_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "data = excluded.data, installed_at = excluded.installed_at",
            (name, taxonomy.model_dump_json(), datetime.now(UTC).isoformat()),
        )


def load_taxonomy(history: History, name: str = "default") -> Taxonomy | None:
    row = history.query_one("SELECT data FROM taxonomy WHERE name = ?", (name,))
    return Taxonomy.model_validate_json(row["data"]) if row else None

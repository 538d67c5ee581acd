"""Moving a team from one database to another (SQLite → Postgres) with nothing lost: every table, row for row,
keys and sequence numbers kept, then counted on both sides.

Paused LangGraph runs (drafts waiting for review) are not copied: a review decided after the move is
applied from its stored job and result, the path the service already takes when a checkpoint is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from knowledge.history import History

#: Every table the history database holds, in an order that keeps references valid, with its key.
TABLES: tuple[tuple[str, str], ...] = (
    ("tickets", "tenant, id"),
    ("results", "seq"),
    ("audit", "seq"),
    ("jobs", "id"),
    ("reviews", "id"),
    ("escalations", "id"),
    ("models", "version"),
    ("taxonomy", "name"),
    ("agents", "tenant, id"),
    ("routing_profiles", "tenant"),
    ("assignments", "tenant, ticket_id"),
    ("surge_observations", "tenant, ticket_id"),
    ("incidents", "id"),
    ("incident_members", "incident_id, ticket_id"),
    ("incident_broadcasts", "incident_id"),
)
#: Tables a database keeps of its own (what was applied to it), never copied.
OWN_TABLES = ("schema_migrations",)
#: Tables whose integer key comes from a sequence on Postgres: advanced past the copied rows.
_SERIAL = ("results", "audit")
_PAGE = 500


class CopyError(RuntimeError):
    """The copy cannot start or did not match (the message says which table)."""


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.source == self.target


def _count(history: History, table: str) -> int:
    return int(history.query_one(f"SELECT COUNT(*) FROM {table}")[0])


def copy_database(
    source: History, target: History, progress: Callable[[str, int], None] | None = None
) -> list[TableCount]:
    """Copy every table of `source` into the empty `target` (its schema already created by opening it)."""
    busy = [table for table, _ in TABLES if _count(target, table)]
    if busy:
        raise CopyError(f"the target database already has rows in {', '.join(busy)}: copy into an empty one")
    for table, key in TABLES:
        offset = 0
        while True:
            rows = source.query(f"SELECT * FROM {table} ORDER BY {key} LIMIT ? OFFSET ?", (_PAGE, offset))
            if not rows:
                break
            columns = list(rows[0].keys())
            marks = ", ".join("?" for _ in columns)
            with target.transaction() as conn:
                for row in rows:
                    conn.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", tuple(row))
            offset += len(rows)
            if progress is not None:
                progress(table, len(rows))
    if target.dialect == "postgres":
        with target.transaction() as conn:
            for table in _SERIAL:
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), "
                    f"COALESCE((SELECT MAX(seq) FROM {table}), 0) + 1, false)"
                )
    return [TableCount(table, _count(source, table), _count(target, table)) for table, _ in TABLES]

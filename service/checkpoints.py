"""Where paused runs (drafts waiting for a review) are checkpointed: a SQLite file beside the history, or
the Postgres database when CASEWORKER_DATABASE_URL names one (langgraph-checkpoint-postgres)."""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from knowledge.db import is_postgres_url

#: Modules whose types travel in the graph state; only these may be revived from a checkpoint.
STATE_MODULES = (
    "agent.schemas", "agent.signals", "agent.llm_tasks", "knowledge.schemas", "knowledge.jobs", "knowledge.reviews",
    "tools.customer",
)  # fmt: skip


def state_types() -> list[tuple[str, str]]:
    allowed = []
    for name in STATE_MODULES:
        module = importlib.import_module(name)
        allowed += [(name, attr) for attr, obj in vars(module).items()
                    if isinstance(obj, type) and obj.__module__ == name]  # fmt: skip
    return allowed


def open_checkpointer(database_url: str | None, sqlite_path: Path) -> tuple[BaseCheckpointSaver, Callable[[], None]]:
    """The saver and how to close it."""
    serde = JsonPlusSerializer(allowed_msgpack_modules=state_types())
    if database_url and is_postgres_url(database_url):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(
            database_url,
            min_size=1,
            max_size=4,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            name="caseworker-checkpoints",
        )
        pool.wait(timeout=30)
        saver: BaseCheckpointSaver = PostgresSaver(pool, serde=serde)  # type: ignore[arg-type]
        saver.setup()  # type: ignore[attr-defined]
        return saver, pool.close
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(sqlite_path, check_same_thread=False, timeout=30)
    saver = SqliteSaver(conn, serde=serde)
    saver.setup()
    return saver, conn.close

"""Versioned schema migrations of the history database (SQLite `PRAGMA user_version`).

Tables are created with `CREATE TABLE IF NOT EXISTS` when a History opens; these steps change what
already exists in an older data dir. Each runs once, in its own write transaction, and several
processes opening one data dir at the same time apply each step exactly once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from knowledge.escalations import backfill_escalations
from knowledge.jobs import migrate_jobs
from knowledge.reviews import migrate_reviews

Step = Callable[[sqlite3.Connection], None]


def _results_job_id(conn: sqlite3.Connection) -> None:
    # Data dirs created before the service existed have results without a job column.
    columns = {row[1] for row in conn.execute("PRAGMA table_info(results)")}
    if "job_id" not in columns:
        conn.execute("ALTER TABLE results ADD COLUMN job_id TEXT")
    # One result per job, enforced by the database: the last guard against a duplicate delivery.
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS results_job ON results (job_id)")


def _label_provenance(conn: sqlite3.Connection) -> None:
    """Before provenance, an approval stored every predicted field as a label. What a review's decision
    proves is only what the reviewer corrected; every other label of a reviewed ticket is marked
    `predicted`. Tickets never reviewed carry the labels they were imported with."""
    latest: dict[tuple[str, str], dict[str, object]] = {}
    rows = conn.execute(
        "SELECT tenant, ticket_id, decision FROM reviews WHERE decision IS NOT NULL ORDER BY decided_at, id"
    )
    for tenant, ticket_id, decision in rows:
        latest[(tenant, ticket_id)] = json.loads(decision)
    for (tenant, ticket_id), decision in latest.items():
        row = conn.execute("SELECT data FROM tickets WHERE tenant = ? AND id = ?", (tenant, ticket_id)).fetchone()
        if row is None:
            continue
        data = json.loads(row[0])
        corrected = decision.get("corrected") or {}
        labels = data.get("labels") or {}
        assert isinstance(corrected, dict)
        data["label_sources"] = {
            name: ("human_corrected" if corrected.get(name) == value else "predicted") for name, value in labels.items()
        }
        conn.execute("UPDATE tickets SET data = ? WHERE tenant = ? AND id = ?", (json.dumps(data), tenant, ticket_id))


MIGRATIONS: tuple[tuple[int, str, Step], ...] = (
    (1, "results.job_id and one result per job", _results_job_id),
    (2, "label provenance on reviewed tickets", _label_provenance),
    (3, "jobs.customer_id, filled from the stored ticket", migrate_jobs),
    (4, "reviews.undo_job_id and send_at (the undo window)", migrate_reviews),
    (5, "escalations of results stored before the table existed", backfill_escalations),
)
LATEST = MIGRATIONS[-1][0]


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the steps this database lacks (the connection is in autocommit mode); the names applied."""
    applied = []
    for version, name, step in MIGRATIONS:
        if schema_version(conn) >= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) < version:  # another process may have applied it while we waited
                step(conn)
                conn.execute(f"PRAGMA user_version = {version:d}")
                applied.append(name)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return applied

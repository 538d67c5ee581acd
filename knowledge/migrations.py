"""Versioned schema migrations of the history database, for SQLite and Postgres alike.

Tables are created complete with `CREATE TABLE IF NOT EXISTS` when a History opens; a step changes what an
older database already holds. Applied steps are recorded in `schema_migrations` (version, name, when),
each step runs once in its own transaction, and several processes opening one database at the same time
apply it exactly once (SQLite's write lock; a Postgres advisory lock). Every step runs on both engines and
is idempotent: on a database created complete it only adds what `CREATE TABLE` can't (indexes on columns
an older table may lack) or finds nothing to backfill.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from knowledge.db import Database, Tx, table_columns
from knowledge.escalations import backfill_escalations
from knowledge.incident_broadcasts import migrate_broadcasts
from knowledge.incidents import migrate_incidents
from knowledge.jobs import migrate_jobs
from knowledge.reviews import migrate_review_grounding, migrate_reviews

Step = Callable[[Tx], None]

MIGRATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
"""


def _results_job_id(conn: Tx) -> None:
    # Data dirs created before the service existed have results without a job column.
    if "job_id" not in table_columns(conn, "results"):
        conn.execute("ALTER TABLE results ADD COLUMN job_id TEXT")
    # One result per job, enforced by the database: the last guard against a duplicate delivery.
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS results_job ON results (job_id)")


def _label_provenance(conn: Tx) -> None:
    """Before provenance, an approval stored every predicted field as a label. What a review's decision
    proves is only what the reviewer corrected; every other label of a reviewed ticket is marked
    `predicted`. Tickets never reviewed carry the labels they were imported with."""
    latest: dict[tuple[str, str], dict[str, object]] = {}
    rows = conn.execute(
        "SELECT tenant, ticket_id, decision FROM reviews WHERE decision IS NOT NULL ORDER BY decided_at, id"
    ).fetchall()
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
    (6, "reviews.grounded and grounding_note, from the stored draft", migrate_review_grounding),
    (7, "surge observations, incidents and their members", migrate_incidents),
    (8, "incident broadcasts", migrate_broadcasts),
)
LATEST = MIGRATIONS[-1][0]


def applied_versions(db: Database) -> set[int]:
    return {int(row[0]) for row in db.query("SELECT version FROM schema_migrations")}


def schema_version(db: Database) -> int:
    return max(applied_versions(db), default=0)


def migrate(db: Database) -> list[str]:
    """Apply the steps this database lacks; returns the names applied."""
    db.executescript(MIGRATIONS_SCHEMA)
    applied = []
    for version, name, step in MIGRATIONS:
        if version in applied_versions(db):
            continue
        with db.transaction() as conn:
            if db.dialect == "postgres":
                conn.execute("SELECT pg_advisory_xact_lock(7311)")
            # Another process may have applied it while this one waited for the lock.
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                continue
            step(conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, datetime.now(UTC).isoformat()),
            )
            applied.append(name)
    return applied

"""History in SQLite (WAL): tickets, triage results and the audit log of every decision.

One connection per History object; writes are short transactions so a crash loses at most the
ticket in flight, never a committed one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from knowledge.assignments import ASSIGNMENTS_SCHEMA
from knowledge.db import Database, Tx, open_database
from knowledge.escalations import ESCALATIONS_SCHEMA, insert_escalation
from knowledge.incident_broadcasts import BROADCASTS_SCHEMA
from knowledge.incidents import INCIDENTS_SCHEMA
from knowledge.jobs import JOBS_SCHEMA, JobLease, LeaseLost, NewJob, complete_job, insert_job
from knowledge.migrations import migrate
from knowledge.model_registry import MODELS_SCHEMA
from knowledge.reviews import REVIEWS_SCHEMA, insert_review, supersede_pending
from knowledge.roster import ROSTER_SCHEMA
from knowledge.schemas import Customer, Ticket
from knowledge.taxonomy import TAXONOMY_SCHEMA

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT,
    created_at TEXT,
    resolved INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS tickets_customer ON tickets (tenant, customer_id, created_at);
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    triaged_at TEXT NOT NULL,
    action TEXT NOT NULL,
    data TEXT NOT NULL,
    job_id TEXT
);
CREATE INDEX IF NOT EXISTS results_ticket ON results (tenant, ticket_id);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    tenant TEXT NOT NULL,
    ticket_id TEXT,
    event TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_ticket ON audit (tenant, ticket_id);
CREATE INDEX IF NOT EXISTS audit_event ON audit (event);
"""


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


#: Ids per `IN (...)` look-up: well under SQLite's and Postgres's parameter limits.
_IDS_PER_QUERY = 500


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _stored_ticket(data: str) -> Ticket:
    """A stored ticket; one imported before dates were bounded keeps its other fields, its date left unset
    (only the ticket being triaged needs a usable date: its SLA and recent-contact window)."""
    try:
        return Ticket.model_validate_json(data)
    except ValidationError as exc:
        if any(tuple(error["loc"]) != ("created_at",) for error in exc.errors()):
            raise
        return Ticket.model_validate({**json.loads(data), "created_at": None})


class History:
    """Tickets, results, audit (and, through their own modules, jobs, reviews, escalations and models) in
    one database: the SQLite file at `path`, or Postgres when `database_url` is a postgresql:// URL."""

    def __init__(self, path: Path, database_url: str | None = None) -> None:
        self.path = path
        self.db: Database = open_database(database_url, path)
        self.db.executescript(
            _SCHEMA
            + JOBS_SCHEMA
            + REVIEWS_SCHEMA
            + ESCALATIONS_SCHEMA
            + MODELS_SCHEMA
            + TAXONOMY_SCHEMA
            + ROSTER_SCHEMA
            + ASSIGNMENTS_SCHEMA
            + INCIDENTS_SCHEMA
            + BROADCASTS_SCHEMA
        )
        migrate(self.db)

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[Tx]:
        """One write transaction; the other stores (jobs, reviews, escalations, models) join it."""
        return self.db.transaction()  # type: ignore[no-any-return]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.db.query(sql, params)

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.db.query_one(sql, params)

    # --- tickets -------------------------------------------------------------------------------
    def changes(self, tickets: Sequence[Ticket]) -> tuple[UpsertCounts, list[Ticket]]:
        """Which tickets are new or differ from the stored version (read-only), with the counts.

        Stored hashes are read a few hundred ids per query, not one query per ticket (large imports)."""
        stored: dict[tuple[str, str], str] = {}
        by_tenant: dict[str, list[str]] = {}
        for ticket in tickets:
            by_tenant.setdefault(ticket.tenant, []).append(ticket.id)
        for tenant, ids in by_tenant.items():
            for start in range(0, len(ids), _IDS_PER_QUERY):
                part = ids[start : start + _IDS_PER_QUERY]
                marks = ",".join("?" for _ in part)
                rows = self.query(
                    f"SELECT id, content_hash FROM tickets WHERE tenant = ? AND id IN ({marks})", (tenant, *part)
                )
                stored.update({(tenant, str(row["id"])): row["content_hash"] for row in rows})
        inserted = updated = unchanged = 0
        changed: list[Ticket] = []
        for ticket in tickets:
            known = stored.get((ticket.tenant, ticket.id))
            if known is None:
                inserted += 1
            elif known == ticket.content_hash():
                unchanged += 1
                continue
            else:
                updated += 1
            changed.append(ticket)
        return UpsertCounts(inserted, updated, unchanged), changed

    def upsert_tickets(self, tickets: Sequence[Ticket]) -> None:
        """Insert or replace by (tenant, id), all in one transaction."""
        with self.transaction() as conn:
            self.upsert_tickets_in(conn, tickets)

    @staticmethod
    def upsert_tickets_in(conn: Tx, tickets: Sequence[Ticket]) -> None:
        """The upsert inside a transaction the caller holds."""
        for ticket in tickets:
            conn.execute(
                "INSERT INTO tickets (tenant, id, customer_id, created_at, resolved, content_hash, data, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET "
                "customer_id = excluded.customer_id, created_at = excluded.created_at, "
                "resolved = excluded.resolved, content_hash = excluded.content_hash, "
                "data = excluded.data, updated_at = excluded.updated_at",
                (
                    ticket.tenant,
                    ticket.id,
                    ticket.customer.id if ticket.customer else None,
                    _iso(ticket.created_at),
                    int(ticket.is_resolved),
                    ticket.content_hash(),
                    ticket.model_dump_json(),
                    _now(),
                ),
            )

    def get_ticket(self, tenant: str, ticket_id: str) -> Ticket | None:
        row = self.query_one("SELECT data FROM tickets WHERE tenant = ? AND id = ?", (tenant, ticket_id))
        return _stored_ticket(row["data"]) if row else None

    def all_tickets(self, tenant: str | None = None, resolved_only: bool = False) -> Iterator[Ticket]:
        query = "SELECT data FROM tickets WHERE 1 = 1"
        params: tuple[Any, ...] = ()
        if resolved_only:
            query += " AND resolved = 1"
        if tenant:
            query += " AND tenant = ?"
            params = (tenant,)
        for row in self.query(query + " ORDER BY tenant, id", params):
            yield _stored_ticket(row["data"])

    def tickets_in_time_order(self, tenant: str) -> list[Ticket]:
        """A tenant's tickets oldest first: by creation time where known, else when they were stored."""
        rows = self.query(
            "SELECT data FROM tickets WHERE tenant = ? ORDER BY COALESCE(created_at, updated_at), updated_at, id",
            (tenant,),
        )
        return [Ticket.model_validate_json(row["data"]) for row in rows]

    def tenants(self) -> list[str]:
        return [str(r[0]) for r in self.query("SELECT DISTINCT tenant FROM tickets ORDER BY 1")]

    def customer_ticket_count(self, tenant: str, customer_id: str, before: datetime, days: int = 30) -> int:
        """Tickets from this customer in the `days` before `before` (the current ticket excluded)."""
        since = before - timedelta(days=days)
        row = self.query_one(
            "SELECT COUNT(*) AS n FROM tickets WHERE tenant = ? AND customer_id = ? "
            "AND created_at >= ? AND created_at < ?",
            (tenant, customer_id, _iso(since), _iso(before)),
        )
        return int(row["n"])

    def customer_profile(self, tenant: str, customer_id: str) -> Customer | None:
        """The customer as the tenant's newest ticket with a tier or MRR knows them (helpdesk webhooks carry
        neither), or None."""
        rows = self.query(
            "SELECT data FROM tickets WHERE tenant = ? AND customer_id = ? ORDER BY created_at DESC LIMIT 20",
            (tenant, customer_id),
        )
        for row in rows:
            known = _stored_ticket(row["data"]).customer
            if known is not None and (known.tier is not None or known.mrr is not None):
                return known
        return None

    def ticket_count(self) -> int:
        return int(self.query_one("SELECT COUNT(*) FROM tickets")[0])

    # --- results and audit -----------------------------------------------------------------------
    def record_result(
        self,
        result: dict[str, Any],
        audit_detail: dict[str, Any],
        job: JobLease | None = None,
        review_subject: str | None = None,
        follow_ups: Sequence[NewJob] = (),
        max_attempts: int = 5,
    ) -> int:
        """Store a TriageResult (as JSON-ready dict) and its audit row in one transaction.

        With a job lease, the same transaction completes the job (raising LeaseLost, and storing
        nothing, if another worker took it), supersedes the ticket's pending reviews (this result is
        newer), opens a review when `review_subject` is given or an escalation when the result escalates,
        and enqueues the follow-up jobs (write-back).
        """
        with self.transaction() as conn:
            inserted = conn.execute(
                "INSERT INTO results (tenant, ticket_id, triaged_at, action, data, job_id) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING RETURNING seq",
                (
                    result["tenant"],
                    result["ticket_id"],
                    result["triaged_at"],
                    result["decision"]["action"],
                    json.dumps(result, sort_keys=True),
                    job.job_id if job else None,
                ),
            ).fetchone()
            if inserted is None:  # the unique index on job_id: another attempt of this job stored its result
                raise LeaseLost(f"job {job.job_id if job else '?'} already has a result")
            seq = int(inserted[0])
            conn.execute(
                "INSERT INTO audit (at, tenant, ticket_id, event, detail) VALUES (?, ?, ?, ?, ?)",
                (
                    _now(),
                    result["tenant"],
                    result["ticket_id"],
                    "triaged",
                    json.dumps(audit_detail, sort_keys=True),
                ),
            )
            if job is not None:
                meta = result.get("meta") or {}
                complete_job(conn, job, seq, meta.get("latency_ms"), meta.get("llm_calls"))
                supersede_pending(conn, result["tenant"], result["ticket_id"])
                if review_subject is not None:
                    insert_review(conn, job.job_id, seq, result, review_subject)
                if result["decision"]["action"] == "escalate" and result.get("escalation"):
                    insert_escalation(conn, job.job_id, seq, result)
                clock = datetime.now(UTC).timestamp()
                for new in follow_ups:
                    insert_job(conn, new, max_attempts, clock)
            return seq

    def result_by_seq(self, seq: int) -> dict[str, Any] | None:
        row = self.query_one("SELECT data FROM results WHERE seq = ?", (seq,))
        return json.loads(row["data"]) if row else None

    def audit(self, event: str, detail: dict[str, Any], tenant: str = "default", ticket_id: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO audit (at, tenant, ticket_id, event, detail) VALUES (?, ?, ?, ?, ?)",
                (_now(), tenant, ticket_id, event, json.dumps(detail, sort_keys=True)),
            )

    def latest_result(self, tenant: str, ticket_id: str) -> dict[str, Any] | None:
        row = self.query_one(
            "SELECT data FROM results WHERE tenant = ? AND ticket_id = ? ORDER BY seq DESC LIMIT 1",
            (tenant, ticket_id),
        )
        return json.loads(row["data"]) if row else None

    def audit_rows(self, ticket_id: str | None = None) -> list[dict[str, Any]]:
        query, params = "SELECT * FROM audit", ()
        if ticket_id is not None:
            query, params = query + " WHERE ticket_id = ?", (ticket_id,)
        rows = self.query(query + " ORDER BY seq", params)
        return [{**dict(row), "detail": json.loads(row["detail"])} for row in rows]

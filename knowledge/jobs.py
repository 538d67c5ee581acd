"""The jobs table of the durable queue: its rows, and the row operations a transaction shares with other
writes (the queue's behaviour, leases and retries, is service/queue.py's).

queued → running → done | failed → … → dead, or queued → cancelled (never claimed). A claim takes a
lease; a job whose lease lapses (its worker died) is claimed again. A job is not claimed before its
`run_after` time: a retry's backoff, or the not-before time it was queued with (an undo window).
Each webhook delivery is enqueued once: (source, delivery_id) is unique.
A triage job is completed in the same transaction that stores its result (see History.record_result),
so a crash can never leave a job done without a result, nor two results for one delivery.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from knowledge.db import Tx, table_columns

if TYPE_CHECKING:
    pass

#: decision: a reviewer's approval, applied once its undo window has passed (see knowledge.reviews);
#: retrain: a tenant's model trained again from feedback (see service.retraining);
#: notify: an emerging incident's outbound notice to one URL (see service.incident_notices).
JobKind = Literal["triage", "writeback", "decision", "retrain", "notify"]
JOB_KINDS: tuple[JobKind, ...] = ("triage", "writeback", "decision", "retrain", "notify")
JobState = Literal["queued", "running", "done", "failed", "dead", "cancelled"]
JOB_STATES: tuple[str, ...] = ("queued", "running", "done", "failed", "dead", "cancelled")

JOBS_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    ticket_id TEXT,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    lease_token TEXT,
    lease_until REAL,
    run_after REAL NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT,
    last_error TEXT,
    result_seq INTEGER,
    latency_ms REAL,
    llm_calls INTEGER,
    content_key TEXT,
    customer_id TEXT,
    UNIQUE (source, delivery_id)
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (state, run_after);
CREATE INDEX IF NOT EXISTS jobs_ticket ON jobs (tenant, ticket_id);
"""


class LeaseLost(RuntimeError):
    """The job's lease lapsed and another worker took it; this worker's outcome is discarded."""


class JobLease(BaseModel):
    """What a worker holds while running a job; passed into the graph so `record` can complete it."""

    job_id: str
    token: str
    attempt: int


@dataclass(frozen=True)
class NewJob:
    kind: JobKind
    source: str
    delivery_id: str
    tenant: str
    ticket_id: str | None
    payload: str
    #: What the work depends on (a ticket's subject and body): a job for the same ticket and key exists
    #: already, so this one is a repeat. Helpdesks send an update event for every change, including
    #: the note and tags our own write-back adds; without this, each note would trigger another triage.
    content_key: str | None = None
    #: Not claimed before this time (epoch seconds); None: as soon as a worker is free.
    not_before: float | None = None
    #: The ticket's customer, so the review page can list the customer's recent tickets.
    customer_id: str | None = None


@dataclass(frozen=True)
class Job:
    id: str
    kind: JobKind
    source: str
    delivery_id: str
    tenant: str
    ticket_id: str | None
    payload: str
    state: JobState
    attempts: int
    max_attempts: int
    lease_token: str | None
    lease_until: float | None
    run_after: float
    created_at: str
    updated_at: str
    finished_at: str | None
    last_error: str | None
    result_seq: int | None
    latency_ms: float | None = None
    llm_calls: int | None = None
    content_key: str | None = None
    customer_id: str | None = None

    @property
    def lease(self) -> JobLease:
        if self.lease_token is None:
            raise ValueError(f"job {self.id} holds no lease")
        return JobLease(job_id=self.id, token=self.lease_token, attempt=self.attempts)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("payload", "lease_token")}


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def job_from_row(row: Any) -> Job:
    return Job(**dict(row))


def insert_job(conn: Tx, new: NewJob, max_attempts: int, now: float) -> tuple[str, bool]:
    """Insert unless (source, delivery_id) exists, or the same work for the ticket does; returns (job id, created)."""
    if new.content_key is not None:
        same = conn.execute(
            "SELECT id FROM jobs WHERE tenant = ? AND ticket_id = ? AND kind = ? AND content_key = ? "
            "ORDER BY created_at DESC LIMIT 1",
            (new.tenant, new.ticket_id, new.kind, new.content_key),
        ).fetchone()
        if same is not None:
            return str(same["id"]), False
    job_id = f"j-{uuid.uuid4().hex[:16]}"
    stamp = iso_now()
    run_after = max(now, new.not_before or now)
    cursor = conn.execute(
        "INSERT INTO jobs (id, kind, source, delivery_id, tenant, ticket_id, payload, state, max_attempts, "
        "run_after, created_at, updated_at, content_key, customer_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?) ON CONFLICT (source, delivery_id) DO NOTHING",
        (job_id, new.kind, new.source, new.delivery_id, new.tenant, new.ticket_id, new.payload, max_attempts,
         run_after, stamp, stamp, new.content_key, new.customer_id),
    )  # fmt: skip
    if cursor.rowcount == 1:
        return job_id, True
    row = conn.execute(
        "SELECT id FROM jobs WHERE source = ? AND delivery_id = ?", (new.source, new.delivery_id)
    ).fetchone()
    return str(row["id"]), False


def complete_job(
    conn: Tx, lease: JobLease, result_seq: int | None = None, latency_ms: float | None = None,
    llm_calls: int | None = None,
) -> None:  # fmt: skip
    """Mark the leased job done inside the caller's transaction; raises LeaseLost if it is no longer ours."""
    cursor = conn.execute(
        "UPDATE jobs SET state = 'done', result_seq = ?, latency_ms = ?, llm_calls = ?, finished_at = ?, "
        "updated_at = ?, lease_token = NULL, lease_until = NULL, last_error = NULL "
        "WHERE id = ? AND lease_token = ? AND state = 'running'",
        (result_seq, latency_ms, llm_calls, iso_now(), iso_now(), lease.job_id, lease.token),
    )
    if cursor.rowcount != 1:
        raise LeaseLost(f"job {lease.job_id}: lease lost before completion")


def cancel_job(conn: Tx, job_id: str, now: float) -> bool:
    """Cancel a queued job whose not-before time is still ahead (inside the caller's transaction).

    False when a worker may already hold it: it is running, finished, or due. Cancelled is terminal:
    claim() never takes it, and retry() refuses it.
    """
    cursor = conn.execute(
        "UPDATE jobs SET state = 'cancelled', finished_at = ?, updated_at = ? "
        "WHERE id = ? AND state = 'queued' AND run_after > ?",
        (iso_now(), iso_now(), job_id, now),
    )
    return cursor.rowcount == 1


def migrate_jobs(conn: Tx) -> None:
    """Columns added after a data dir was created, with what can be filled from old rows."""
    columns = table_columns(conn, "jobs")
    if "customer_id" not in columns:
        conn.execute("ALTER TABLE jobs ADD COLUMN customer_id TEXT")
        conn.execute(
            "UPDATE jobs SET customer_id = json_extract(payload, '$.customer.id') "
            "WHERE kind = 'triage' AND json_valid(payload)"
        )
    conn.execute("CREATE INDEX IF NOT EXISTS jobs_customer ON jobs (tenant, customer_id, created_at)")

"""The durable job queue, in the history's SQLite database (WAL).

queued → running → done | failed → … → dead, or queued → cancelled (never claimed). A claim takes a
lease; a job whose lease lapses (its worker died) is claimed again. A job is not claimed before its
`run_after` time: a retry's backoff, or the not-before time it was queued with (an undo window).
Each webhook delivery is enqueued once: (source, delivery_id) is unique.
A triage job is completed in the same transaction that stores its result (see History.record_result),
so a crash can never leave a job done without a result, nor two results for one delivery.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from knowledge.db import Tx, table_columns

if TYPE_CHECKING:
    from knowledge.history import History

#: decision: a reviewer's approval, applied once its undo window has passed (see knowledge.reviews);
#: retrain: a tenant's model trained again from feedback (see service.retraining).
JobKind = Literal["triage", "writeback", "decision", "retrain"]
JOB_KINDS: tuple[JobKind, ...] = ("triage", "writeback", "decision", "retrain")
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


def _iso_now() -> str:
    return datetime.now(UTC).isoformat()


def _row_job(row: Any) -> Job:
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
    stamp = _iso_now()
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
        (result_seq, latency_ms, llm_calls, _iso_now(), _iso_now(), lease.job_id, lease.token),
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
        (_iso_now(), _iso_now(), job_id, now),
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


class JobQueue:
    """Queue operations over the history database's connection (one connection, one lock)."""

    def __init__(
        self,
        history: History,
        max_attempts: int = 5,
        lease_s: float = 120.0,
        retry_base_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.history = history
        self.max_attempts = max_attempts
        self.lease_s = lease_s
        self.retry_base_s = retry_base_s
        self.clock = clock

    def enqueue(self, new: NewJob) -> tuple[str, bool]:
        with self.history.transaction() as conn:
            return insert_job(conn, new, self.max_attempts, self.clock())

    def claim(self, kinds: tuple[JobKind, ...] = JOB_KINDS) -> Job | None:
        """Take the next ready job (queued, failed and due, or running with a lapsed lease)."""
        marks = ",".join("?" for _ in kinds)
        while True:
            now = self.clock()
            with self.history.transaction() as conn:
                row = conn.execute(
                    f"SELECT id, state, attempts, max_attempts FROM jobs WHERE kind IN ({marks}) AND ("
                    "(state IN ('queued', 'failed') AND run_after <= ?) OR (state = 'running' AND lease_until < ?)) "
                    "ORDER BY run_after, created_at LIMIT 1" + self.history.db.skip_locked,
                    (*kinds, now, now),
                ).fetchone()
                if row is None:
                    return None
                if row["state"] == "running" and row["attempts"] >= row["max_attempts"]:
                    # Its worker died on the last allowed attempt: a poison job must not kill workers forever.
                    conn.execute(
                        "UPDATE jobs SET state = 'dead', lease_token = NULL, lease_until = NULL, updated_at = ?, "
                        "last_error = COALESCE(last_error, 'worker lost its lease on the last attempt') WHERE id = ?",
                        (_iso_now(), row["id"]),
                    )
                    continue
                token = uuid.uuid4().hex
                conn.execute(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = ?, lease_until = ?, "
                    "updated_at = ? WHERE id = ?",
                    (token, now + self.lease_s, _iso_now(), row["id"]),
                )
                claimed = conn.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
                return _row_job(claimed)

    def extend(self, lease: JobLease) -> bool:
        with self.history.transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_token = ? AND state = 'running'",
                (self.clock() + self.lease_s, lease.job_id, lease.token),
            )
            return cursor.rowcount == 1

    def complete(self, lease: JobLease, audit: tuple[str, dict[str, Any]] | None = None) -> None:
        """Mark a job done, with its audit event (event, detail) in the same transaction."""
        with self.history.transaction() as conn:
            complete_job(conn, lease)
            if audit is not None:
                self._audit(conn, lease.job_id, *audit)

    @staticmethod
    def _audit(conn: Tx, job_id: str, event: str, detail: dict[str, Any]) -> None:
        conn.execute(
            "INSERT INTO audit (at, tenant, ticket_id, event, detail) SELECT ?, tenant, ticket_id, ?, ? FROM jobs "
            "WHERE id = ?",
            (_iso_now(), event, json.dumps({"job_id": job_id, **detail}, sort_keys=True, default=str), job_id),
        )

    def fail(self, lease: JobLease, error: str, retryable: bool = True) -> JobState:
        """Record a failed attempt (and audit it): retried later with backoff, dead once attempts are spent
        or when retrying cannot help."""
        with self.history.transaction() as conn:
            row = conn.execute(
                "SELECT attempts, max_attempts FROM jobs WHERE id = ? AND lease_token = ? AND state = 'running'"
                + self.history.db.for_update,
                (lease.job_id, lease.token),
            ).fetchone()
            if row is None:
                raise LeaseLost(f"job {lease.job_id}: lease lost before failure was recorded")
            spent = row["attempts"] >= row["max_attempts"]
            state: JobState = "dead" if spent or not retryable else "failed"
            delay = self.retry_base_s * (2 ** (row["attempts"] - 1))
            conn.execute(
                "UPDATE jobs SET state = ?, run_after = ?, last_error = ?, lease_token = NULL, lease_until = NULL, "
                "updated_at = ?, finished_at = CASE WHEN ? = 'dead' THEN ? END WHERE id = ?",
                (state, self.clock() + delay, error[:2000], _iso_now(), state, _iso_now(), lease.job_id),
            )
            self._audit(conn, lease.job_id, "job_failed", {"error": error[:2000], "state": state})
            return state

    def retry(self, job_id: str) -> Job:
        """Put a failed or dead job back in the queue with a fresh attempt budget (`caseworker jobs retry`)."""
        with self.history.transaction() as conn:
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(job_id)
            if row["state"] not in ("failed", "dead"):
                raise ValueError(f"job {job_id} is {row['state']}; only failed or dead jobs can be retried")
            conn.execute(
                "UPDATE jobs SET state = 'queued', attempts = 0, run_after = ?, updated_at = ?, finished_at = NULL "
                "WHERE id = ?",
                (self.clock(), _iso_now(), job_id),
            )
            return _row_job(conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())

    def latest_payload(self, tenant: str, ticket_id: str, kind: JobKind = "triage") -> str | None:
        """The payload of the ticket's newest job of `kind` (a follow-up continues its thread), if any."""
        row = self.history.query_one(
            "SELECT payload FROM jobs WHERE tenant = ? AND ticket_id = ? AND kind = ? "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (tenant, ticket_id, kind),
        )
        return str(row["payload"]) if row else None

    def get(self, job_id: str) -> Job | None:
        row = self.history.query_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _row_job(row) if row else None

    def list(self, state: str | None = None, kind: str | None = None, limit: int = 50) -> list[Job]:
        query, params = "SELECT * FROM jobs WHERE 1 = 1", []
        if state:
            query, params = query + " AND state = ?", [*params, state]
        if kind:
            query, params = query + " AND kind = ?", [*params, kind]
        rows = self.history.query(query + " ORDER BY created_at DESC, id LIMIT ?", (*params, limit))
        return [_row_job(r) for r in rows]

    def depth(self) -> dict[str, int]:
        """Jobs per state, every state present (for /metrics and `jobs list`)."""
        counts = dict.fromkeys(JOB_STATES, 0)
        for row in self.history.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state", ()):
            counts[row["state"]] = int(row["n"])
        return counts

    def oldest_wait_s(self) -> float | None:
        """Seconds the longest-waiting runnable job has waited since it became due, None when none waits.

        Queued jobs and failed ones due for a retry wait from `run_after`; a running job whose lease lapsed
        (its worker died) from `lease_until`. A job backing off before its retry is not waiting yet."""
        now = self.clock()
        row = self.history.query_one(
            "SELECT MIN(since) AS since FROM ("
            "SELECT MIN(run_after) AS since FROM jobs WHERE state IN ('queued', 'failed') AND run_after <= ? "
            "UNION ALL SELECT MIN(lease_until) FROM jobs WHERE state = 'running' AND lease_until < ?) AS waiting",
            (now, now),
        )
        return None if row is None or row["since"] is None else max(0.0, now - float(row["since"]))

    def stuck(self) -> list[Job]:
        """Running jobs whose lease has lapsed (a dead worker's), for health checks and tests."""
        rows = self.history.query("SELECT * FROM jobs WHERE state = 'running' AND lease_until < ?", (self.clock(),))
        return [_row_job(r) for r in rows]

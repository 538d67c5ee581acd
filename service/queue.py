"""The durable job queue's behaviour: enqueue once per delivery, claim with a lease, extend it, complete,
fail with backoff until dead, retry by hand (the rows themselves: knowledge/jobs.py).

queued → running → done | failed → … → dead, or queued → cancelled (never claimed). A claim takes a
lease; a job whose lease lapses (its worker died) is claimed again. A job is not claimed before its
`run_after` time: a retry's backoff, or the not-before time it was queued with (an undo window).
A triage job is completed in the same transaction that stores its result (service/result_sink.py).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from knowledge.db import Tx
from knowledge.history import History
from knowledge.jobs import (
    JOB_KINDS,
    JOB_STATES,
    Job,
    JobKind,
    JobLease,
    JobState,
    LeaseLost,
    NewJob,
    complete_job,
    insert_job,
    iso_now,
    job_from_row,
)


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

    def claim(self, kinds: tuple[JobKind, ...] = JOB_KINDS, fresh_only: bool = False) -> Job | None:
        """Take the next ready job (queued, failed and due, or running with a lapsed lease).

        `fresh_only`: only a job never attempted (a worker's batch-mates: a job that may have crashed a
        worker before runs alone, so it can cost its neighbours at most one attempt).

        A ticket's triage jobs run in the order they came: one waits while an older one of the same ticket is
        queued, running or due a retry, so the newest job's result is always stored last and stays the
        ticket's current result (two workers, or one worker's batch, could otherwise finish a follow-up
        before the message it follows)."""
        marks = ",".join("?" for _ in kinds)
        fresh = " AND attempts = 0" if fresh_only else ""
        fresh += (
            " AND NOT (kind = 'triage' AND EXISTS (SELECT 1 FROM jobs older WHERE older.kind = 'triage'"
            " AND older.tenant = jobs.tenant AND older.ticket_id = jobs.ticket_id"
            " AND older.state IN ('queued', 'running', 'failed') AND older.created_at < jobs.created_at))"
        )
        while True:
            now = self.clock()
            with self.history.transaction() as conn:
                row = conn.execute(
                    f"SELECT id, state, attempts, max_attempts FROM jobs WHERE kind IN ({marks}){fresh} AND ("
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
                        (iso_now(), row["id"]),
                    )
                    continue
                token = uuid.uuid4().hex
                conn.execute(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = ?, lease_until = ?, "
                    "updated_at = ? WHERE id = ?",
                    (token, now + self.lease_s, iso_now(), row["id"]),
                )
                claimed = conn.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
                return job_from_row(claimed)

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
            (iso_now(), event, json.dumps({"job_id": job_id, **detail}, sort_keys=True, default=str), job_id),
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
                (state, self.clock() + delay, error[:2000], iso_now(), state, iso_now(), lease.job_id),
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
                (self.clock(), iso_now(), job_id),
            )
            return job_from_row(conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())

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
        return job_from_row(row) if row else None

    def list(self, state: str | None = None, kind: str | None = None, limit: int = 50) -> list[Job]:
        query, params = "SELECT * FROM jobs WHERE 1 = 1", []
        if state:
            query, params = query + " AND state = ?", [*params, state]
        if kind:
            query, params = query + " AND kind = ?", [*params, kind]
        rows = self.history.query(query + " ORDER BY created_at DESC, id LIMIT ?", (*params, limit))
        return [job_from_row(r) for r in rows]

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
        return [job_from_row(r) for r in rows]

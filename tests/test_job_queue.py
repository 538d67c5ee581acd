"""The durable queue on a real SQLite file and a real Postgres: idempotent enqueue, leases, retries, dead jobs, and the
result-with-completion transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.history import History
from knowledge.jobs import LeaseLost, NewJob, cancel_job
from knowledge.reviews import ReviewBook
from service.queue import JobQueue


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _job(delivery: str = "d-1", ticket: str = "t1") -> NewJob:
    return NewJob(
        kind="triage", source="generic", delivery_id=delivery, tenant="default", ticket_id=ticket, payload="{}"
    )


def _result(ticket_id: str = "t1") -> dict:
    return {
        "tenant": "default",
        "ticket_id": ticket_id,
        "triaged_at": "2026-11-29T00:00:00+00:00",
        "decision": {"action": "escalate"},
        "meta": {"latency_ms": 12.5, "llm_calls": 0},
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(tmp_path: Path, clock: Clock, database_url: str | None) -> Iterator[JobQueue]:
    """The queue's contract, on each storage backend (SQLite file, Postgres)."""
    history = History(tmp_path / "h.sqlite3", database_url)
    yield JobQueue(history, max_attempts=3, lease_s=30, retry_base_s=10, clock=clock)
    history.close()


def test_enqueue_is_idempotent_per_source_and_delivery(queue: JobQueue) -> None:
    first, created = queue.enqueue(_job())
    again, created_again = queue.enqueue(_job())
    other, _ = queue.enqueue(NewJob("triage", "zendesk", "d-1", "default", "t1", "{}"))
    assert created and not created_again and again == first
    assert other != first
    assert queue.depth()["queued"] == 2


def test_claim_leases_and_a_lapsed_lease_is_claimed_again(queue: JobQueue, clock: Clock) -> None:
    queue.enqueue(_job())
    job = queue.claim()
    assert job is not None and job.state == "running" and job.attempts == 1
    assert queue.claim() is None  # leased: nobody else gets it
    clock.now += 31
    assert [j.id for j in queue.stuck()] == [job.id]
    again = queue.claim()
    assert again is not None and again.id == job.id and again.attempts == 2
    assert again.lease_token != job.lease_token
    with pytest.raises(LeaseLost):
        queue.complete(job.lease)  # the first worker's late completion is refused
    queue.complete(again.lease)
    assert queue.get(job.id).state == "done"  # type: ignore[union-attr]


def test_failures_back_off_then_die_and_retry_revives(queue: JobQueue, clock: Clock) -> None:
    queue.enqueue(_job())
    job = queue.claim()
    assert job is not None
    assert queue.fail(job.lease, "boom") == "failed"
    assert queue.claim() is None  # backing off
    clock.now += 10
    job = queue.claim()
    assert job is not None and job.attempts == 2
    assert queue.fail(job.lease, "boom") == "failed"
    clock.now += 20
    job = queue.claim()
    assert job is not None and job.attempts == 3
    assert queue.fail(job.lease, "boom again") == "dead"
    clock.now += 1000
    assert queue.claim() is None
    dead = queue.get(job.id)
    assert dead is not None and dead.last_error == "boom again"
    assert len([r for r in queue.history.audit_rows() if r["event"] == "job_failed"]) == 3
    revived = queue.retry(job.id)
    assert revived.state == "queued" and revived.attempts == 0
    with pytest.raises(ValueError, match="only failed or dead"):
        queue.retry(job.id)


def test_not_retryable_failure_is_dead_at_once(queue: JobQueue) -> None:
    queue.enqueue(_job())
    job = queue.claim()
    assert job is not None
    assert queue.fail(job.lease, "400 Bad Request", retryable=False) == "dead"


def test_worker_dying_on_its_last_attempt_makes_the_job_dead(queue: JobQueue, clock: Clock) -> None:
    queue.enqueue(_job())
    for _ in range(3):
        assert queue.claim() is not None
        clock.now += 31
    assert queue.claim() is None
    assert queue.depth()["dead"] == 1


def test_result_and_completion_share_one_transaction(queue: JobQueue, clock: Clock) -> None:
    history = queue.history
    queue.enqueue(_job())
    job = queue.claim()
    assert job is not None
    clock.now += 31
    thief = queue.claim()
    assert thief is not None
    # The first worker finishes late: its result must not be stored, and the job stays the thief's.
    with pytest.raises(LeaseLost):
        history.record_result(_result(), {}, job=job.lease)
    assert history.latest_result("default", "t1") is None
    seq = history.record_result(
        _result(),
        {},
        job=thief.lease,
        follow_ups=[NewJob("writeback", "zendesk", f"writeback:{thief.id}:triage", "default", "t1", "{}")],
    )
    done = queue.get(thief.id)
    assert done is not None and done.state == "done" and done.result_seq == seq and done.latency_ms == 12.5
    assert queue.depth()["queued"] == 1  # the follow-up write-back job
    # A second result for the same job is refused by the database itself.
    with pytest.raises(LeaseLost):
        history.record_result(_result(), {}, job=thief.lease)
    rows = history.query("SELECT COUNT(*) AS n FROM results WHERE job_id = ?", (thief.id,))
    assert rows[0]["n"] == 1
    assert json.loads(history.query_one("SELECT data FROM results", ())["data"])["ticket_id"] == "t1"


def test_same_work_for_a_ticket_is_not_queued_twice(queue: JobQueue) -> None:
    def job(delivery: str, key: str) -> NewJob:
        return NewJob("triage", "zendesk", delivery, "default", "zendesk:1", "{}", content_key=key)

    first, created = queue.enqueue(job("event-1", "subject+body v1"))
    assert created
    # An update event caused by our own note and tags: other delivery id, same subject and body.
    assert queue.enqueue(job("event-2", "subject+body v1")) == (first, False)
    changed, created = queue.enqueue(job("event-3", "subject+body v2"))
    assert created and changed != first


def test_a_review_opens_when_the_history_never_labelled_queue_or_category(queue: JobQueue) -> None:
    queue.enqueue(_job())
    job = queue.claim()
    assert job is not None
    result = {**_result(), "decision": {"action": "draft_for_review"},
              "classification": {"queue": None, "category": None, "priority": {"value": "P2"}},
              "sla": {"first_response_due": "2026-11-30T00:00:00+00:00"}}  # fmt: skip
    queue.history.record_result(result, {}, job=job.lease, review_subject="Where is my invoice?")
    [review] = ReviewBook(queue.history).list()
    assert (review.queue, review.category, review.priority) == (None, None, "P2")
    assert review.subject == "Where is my invoice?"


def test_a_job_is_not_claimed_before_its_not_before_time(queue: JobQueue, clock: Clock) -> None:
    later, _ = queue.enqueue(
        NewJob("writeback", "zendesk", "reply-1", "default", "t1", "{}", not_before=clock.now + 10)
    )
    now, _ = queue.enqueue(_job())
    assert queue.get(later).run_after == clock.now + 10  # type: ignore[union-attr]
    first = queue.claim()
    assert first is not None and first.id == now  # the due job goes first although queued later
    assert queue.claim() is None
    clock.now += 10
    second = queue.claim()
    assert second is not None and second.id == later


def test_a_cancelled_job_is_never_claimed_and_cannot_be_retried(queue: JobQueue, clock: Clock) -> None:
    job_id, _ = queue.enqueue(NewJob("decision", "review", "d-r1", "default", "t1", "{}", not_before=clock.now + 10))
    with queue.history.transaction() as conn:
        assert cancel_job(conn, job_id, clock.now)
    assert queue.get(job_id).state == "cancelled"  # type: ignore[union-attr]
    clock.now += 3600
    assert queue.claim() is None
    assert queue.depth()["cancelled"] == 1
    with pytest.raises(ValueError, match="only failed or dead"):
        queue.retry(job_id)


def test_a_job_past_its_not_before_time_or_claimed_cannot_be_cancelled(queue: JobQueue, clock: Clock) -> None:
    due, _ = queue.enqueue(NewJob("decision", "review", "d-r2", "default", "t1", "{}", not_before=clock.now + 10))
    clock.now += 10
    with queue.history.transaction() as conn:
        assert not cancel_job(conn, due, clock.now)  # due: a worker may be about to take it
    job = queue.claim()
    assert job is not None and job.id == due
    with queue.history.transaction() as conn:
        assert not cancel_job(conn, due, clock.now - 100)  # running: too late whatever the clock says
    assert queue.get(due).state == "running"  # type: ignore[union-attr]


def test_an_old_data_dir_gains_the_customer_column_filled_from_payloads(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    History(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX jobs_customer")
    conn.execute("ALTER TABLE jobs DROP COLUMN customer_id")
    conn.execute("DELETE FROM schema_migrations WHERE version >= 3")  # before jobs had a customer column
    conn.execute(
        "INSERT INTO jobs (id, kind, source, delivery_id, tenant, ticket_id, payload, state, max_attempts, run_after, "
        "created_at, updated_at) VALUES ('j-1', 'triage', 'zendesk', 'd', 'default', 't1', ?, 'done', 3, 0, '', '')",
        (json.dumps({"id": "t1", "customer": {"id": "cus-7"}}),),
    )
    conn.commit()
    conn.close()
    reopened = History(path)
    assert reopened.query_one("SELECT customer_id FROM jobs WHERE id = 'j-1'", ())["customer_id"] == "cus-7"


def test_oldest_wait_counts_due_work_only(queue: JobQueue, clock: Clock) -> None:
    assert queue.oldest_wait_s() is None
    queue.enqueue(_job("d-1"))
    clock.now += 40
    queue.enqueue(_job("d-2", ticket="t2"))
    assert queue.oldest_wait_s() == 40
    first = queue.claim()
    assert first is not None and queue.oldest_wait_s() == 0  # d-2 was due the moment it came in
    assert queue.claim() is not None
    assert queue.oldest_wait_s() is None  # both running under a live lease
    queue.fail(first.lease, "boom")  # backing off for retry_base_s: not waiting yet
    assert queue.oldest_wait_s() is None
    clock.now += 25  # the retry (due after 10 s) waits 15 s; the other job's 30 s lease still holds
    assert queue.oldest_wait_s() == 15
    clock.now += 10  # now the other job's lease lapsed too, 5 s ago, but the retry has waited longest
    assert queue.oldest_wait_s() == 25
    assert queue.claim() is not None and queue.claim() is not None
    clock.now += 31  # both leases lapsed 1 s ago: their workers are gone
    assert queue.oldest_wait_s() == 1


def test_fresh_only_claims_skip_jobs_already_attempted(queue: JobQueue, clock: Clock) -> None:
    """A worker's batch-mates are first attempts only: a retried or lapsed job is never leased beside others."""
    queue.enqueue(_job("d-1"))
    first = queue.claim()
    assert first is not None
    queue.fail(first.lease, "boom")
    clock.now += 10
    lapsed = queue.enqueue(_job("d-2", ticket="t2"))[0]
    assert queue.claim() is not None  # d-1's retry (oldest run_after), leased as usual
    assert queue.claim(fresh_only=True) is not None  # d-2: never attempted
    clock.now += 31  # both leases lapse: their workers died
    assert queue.claim(("triage",), fresh_only=True) is None
    again = queue.claim()
    assert again is not None and again.attempts == 3
    assert queue.get(lapsed) is not None


def test_a_tickets_triage_jobs_run_in_the_order_they_came(queue: JobQueue, clock: Clock) -> None:
    """A follow-up waits while the message it follows is queued, running or due a retry, so the newest job's
    result is stored last (two workers, or one worker's batch, could otherwise store the older one last)."""
    older = queue.enqueue(_job("d-1", ticket="t1"))[0]
    newer = queue.enqueue(_job("d-2", ticket="t1"))[0]
    other = queue.enqueue(_job("d-3", ticket="t2"))[0]
    first = queue.claim()
    assert first is not None and first.id == older
    second = queue.claim(("triage",), fresh_only=True)  # a batch-mate: the other ticket, not t1's follow-up
    assert second is not None and second.id == other
    assert queue.claim() is None  # t1's follow-up waits for the running message
    queue.complete(second.lease)
    queue.fail(first.lease, "boom")
    clock.now += 60
    retried = queue.claim()  # the retry comes first, still ahead of the follow-up
    assert retried is not None and retried.id == older
    assert queue.claim() is None
    queue.complete(retried.lease)
    follow_up = queue.claim()
    assert follow_up is not None and follow_up.id == newer

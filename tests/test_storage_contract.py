"""The storage contract, on every backend (SQLite file, Postgres): history, reviews, the model registry,
migrations, and concurrent queue claims. The queue's own rules are in tests/test_job_queue.py, run on both."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.history import History
from knowledge.jobs import LeaseLost, NewJob
from knowledge.migrations import LATEST, schema_version
from knowledge.model_registry import ModelRegistry, RegistryError
from knowledge.reviews import ReviewBook, ReviewConflict, ReviewDecision
from knowledge.schemas import Ticket
from service.queue import JobQueue


@pytest.fixture
def history(tmp_path: Path, database_url: str | None) -> Iterator[History]:
    opened = History(tmp_path / "h.sqlite3", database_url)
    yield opened
    opened.close()


def _result(ticket_id: str, action: str = "draft_for_review") -> dict:
    return {
        "tenant": "default",
        "ticket_id": ticket_id,
        "triaged_at": "2026-12-01T00:00:00+00:00",
        "decision": {"action": action},
        "classification": {"priority": {"value": "P2"}, "queue": {"value": "billing"}},
        "sla": {"first_response_due": "2026-12-01T04:00:00+00:00"},
        "meta": {"latency_ms": 5.0, "llm_calls": 0},
    }


def test_tickets_round_trip_in_time_order_per_tenant(history: History) -> None:
    tickets = [
        Ticket(id=f"t{i}", tenant="acme", subject=f"s{i}", body="b", created_at=f"2026-01-0{9 - i}T00:00:00Z",
               labels={"queue": "q"}, label_sources={"queue": "human_corrected"}, reply="r")
        for i in range(3)
    ] + [Ticket(id="other", tenant="globex", subject="s", body="b")]  # fmt: skip
    history.upsert_tickets(tickets)
    counts, changed = history.changes(tickets)
    assert (counts.unchanged, changed) == (4, [])
    assert [t.id for t in history.tickets_in_time_order("acme")] == ["t2", "t1", "t0"]
    assert history.get_ticket("acme", "t0").label_source("queue") == "human_corrected"  # type: ignore[union-attr]
    assert history.tenants() == ["acme", "globex"] and history.ticket_count() == 4


def test_a_result_completes_its_job_opens_its_review_and_queues_follow_ups_at_once(history: History) -> None:
    queue = JobQueue(history)
    job_id, _ = queue.enqueue(NewJob("triage", "generic", "d1", "default", "t1", "{}"))
    job = queue.claim()
    assert job is not None and job.id == job_id
    follow_up = NewJob("writeback", "caseworker", "wb-1", "default", "t1", "{}")
    seq = history.record_result(_result("t1"), {"x": 1}, job=job.lease, review_subject="s", follow_ups=[follow_up])
    assert queue.get(job_id).state == "done"  # type: ignore[union-attr]
    assert [r.ticket_id for r in ReviewBook(history).list()] == ["t1"]
    assert [j.delivery_id for j in queue.list(kind="writeback")] == ["wb-1"]
    assert history.result_by_seq(seq)["ticket_id"] == "t1"  # type: ignore[index]
    with pytest.raises(LeaseLost):  # a second result for the same job is refused, and nothing is stored
        history.record_result(_result("t1"), {}, job=job.lease)
    assert len(history.query("SELECT seq FROM results")) == 1


def test_a_review_takes_one_decision(history: History) -> None:
    queue = JobQueue(history)
    queue.enqueue(NewJob("triage", "generic", "d1", "default", "t1", "{}"))
    job = queue.claim()
    assert job is not None
    history.record_result(_result("t1"), {}, job=job.lease, review_subject="s")
    book = ReviewBook(history)
    (review,) = book.list()
    decision = ReviewDecision(outcome="approved", reply="ok", reviewer="sam")
    decided = book.decide(review.id, decision, labels={}, label_sources={}, draft="d", ticket=None, follow_ups=(),
                          max_attempts=3, now=0.0)  # fmt: skip
    assert decided.state == "approved" and decided.reviewer == "sam"
    with pytest.raises(ReviewConflict, match="already approved by sam"):
        book.decide(review.id, decision, labels={}, label_sources={}, draft="d", ticket=None, follow_ups=(),
                    max_attempts=3, now=0.0)  # fmt: skip


def test_the_registry_keeps_one_champion_and_rolls_back(history: History) -> None:
    registry = ModelRegistry(history, keep=2)
    for n in range(3):
        registry.add(f"v{n}", "acme", 10 * n, {"holdout": {}}, data=b"model-%d" % n)
    assert registry.data("v0") is None  # only the newest two keep their bytes
    with pytest.raises(RegistryError, match="pruned"):
        registry.promote("v0", reason="old")
    registry.promote("v1", reason="first")
    registry.promote("v2", reason="second")
    assert registry.champion_version("acme") == "v2" and registry.data("v2") == b"model-2"
    assert registry.rollback("acme").version == "v1"
    assert [r.state for r in registry.list("acme")] == ["retired", "champion", "candidate"]
    assert registry.champion_version("globex") is None


def test_migrations_are_recorded_once(tmp_path: Path, database_url: str | None) -> None:
    first = History(tmp_path / "m.sqlite3", database_url)
    assert schema_version(first.db) == LATEST
    second = History(tmp_path / "m.sqlite3", database_url)  # opening again applies nothing twice
    assert len(second.query("SELECT version FROM schema_migrations")) == LATEST
    first.close()
    second.close()


def test_concurrent_claims_never_share_a_job(history: History) -> None:
    queue = JobQueue(history)
    for n in range(40):
        queue.enqueue(NewJob("triage", "generic", f"d{n}", "default", f"t{n}", "{}"))
    claimed: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while (job := queue.claim()) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == len(set(claimed)) == 40

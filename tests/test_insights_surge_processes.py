"""Surge detection with several worker processes on one store (SQLite file or Postgres): the window is the
stored one, so a burst split across workers is counted whole and opens exactly one proposal, even when
both workers decide at the same instant; a steady stream split the same way opens none; workers that
restart mid-burst lose nothing."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from insights.surge import SurgeDetector, SurgePolicy
from knowledge.history import History
from knowledge.incidents import IncidentBook, Observation
from tests.insights_data import EPOCH
from tests.test_insights_surge import _steady, _ticket

pytestmark = pytest.mark.slow

POLICY = SurgePolicy(similarity=0.6)


def _worker(path: str, url: str | None, batches: list[list[Observation]], barrier: object) -> None:
    """One worker process: before each batch every worker waits at the barrier, so the workers' tickets of a
    batch race for the same decision."""
    history = History(Path(path), url)
    detector = SurgeDetector(IncidentBook(history), POLICY)
    for batch in batches:
        barrier.wait(timeout=120)  # type: ignore[attr-defined]
        for obs in batch:
            detector.observe(obs)
    history.close()


def _run_workers(path: Path, url: str | None, per_worker: list[list[list[Observation]]]) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(per_worker))
    workers = [context.Process(target=_worker, args=(str(path), url, batches, barrier)) for batches in per_worker]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * len(workers)


def _split(stream: list[Observation], workers: int = 2) -> list[list[list[Observation]]]:
    """Ticket i goes to worker i % workers, each its own batch: the workers move through the stream together."""
    return [[[obs] for obs in stream[w::workers]] for w in range(workers)]


def _burst_pairs(start, pairs: int, first: int = 0) -> list[Observation]:
    """Two tickets of one topic at each instant, six minutes apart: one per worker, deciding concurrently."""
    rng = np.random.default_rng(5 + first)
    out = []
    for k in range(first, first + pairs):
        at = start + timedelta(minutes=6 * k)
        out += [_ticket(rng, 7, "a", 2 * k + j, at, "b") for j in range(2)]
    return out


def test_workers_share_one_window_and_open_one_incident(tmp_path: Path, database_url: str | None) -> None:
    path = tmp_path / "history.sqlite3"
    history = History(path, database_url)
    book = IncidentBook(history)
    for obs in _steady("a", 8, 6, seed=1):  # a week of history, stored as the service would have
        book.observe(obs)
    day = [o.model_copy(update={"at": o.at + timedelta(days=8), "ticket_id": f"d{o.ticket_id}"})
           for o in _steady("a", 1, 6, seed=2)]  # fmt: skip
    _run_workers(path, database_url, _split(day))
    assert book.list("a") == []  # a steady day split across two workers: nothing

    start = EPOCH + timedelta(days=9, hours=10)
    # Two workers take the burst's first four tickets (under min_size 5), then both restart ...
    _run_workers(path, database_url, _split(_burst_pairs(start, 2)))
    assert book.list("a") == []
    # ... and two fresh ones take the rest: the window comes from the store, so the fifth ticket opens it.
    _run_workers(path, database_url, _split(_burst_pairs(start, 4, first=2)))
    [incident] = book.list("a")
    members = {m.ticket_id for m in incident.members}
    assert members == {f"b{i}" for i in range(12)}  # the opening group and every later match, once
    assert incident.opened_at == start + timedelta(minutes=12)  # the pair holding the 5th and 6th tickets
    history.close()

"""A worker with several triage jobs waiting leases a bounded batch and runs them together, keeping the
queue's rules: each job gets exactly one result, a job that fails (or never validates) fails alone, and a
job on a retry runs alone."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from config.components import Components
from config.settings import Settings
from knowledge.jobs import Job, NewJob
from knowledge.schemas import Ticket
from service.runtime import ServiceRuntime
from service.worker import Worker

BAD = "t-bad"


@pytest.fixture
def runtime(trained_workspace: Components) -> Iterator[ServiceRuntime]:
    settings = Settings(data_dir=trained_workspace.settings.data_dir, worker_batch=4, job_retry_base_s=0)
    trained_workspace.history.close()
    service = ServiceRuntime(settings)
    yield service
    service.close()


def _enqueue(runtime: ServiceRuntime, ticket_id: str, payload: str) -> str:
    job_id, _ = runtime.queue.enqueue(
        NewJob(
            kind="triage",
            source="test",
            delivery_id=f"d-{ticket_id}",
            tenant="default",
            ticket_id=ticket_id,
            payload=payload,
        )
    )
    return job_id


def _ticket(ticket_id: str, subject: str, body: str) -> str:
    return Ticket(id=ticket_id, subject=subject, body=body).model_dump_json()


def test_a_batch_gives_each_job_one_result_and_isolates_failures(
    runtime: ServiceRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = [
        _enqueue(runtime, f"t{i}", _ticket(f"t{i}", subject, body))
        for i, (subject, body) in enumerate(
            [
                ("Forgot my password", "The reset email never arrives."),
                ("Invoice copy", "Please send the invoice for March."),
                ("Charged twice", "My card was charged twice this month."),
                ("Site is down", "Nobody can load the dashboard, 502 errors everywhere."),
                ("Reset link expired", "The password link says it expired."),
            ]
        )
    ]
    invalid = _enqueue(runtime, "t-invalid", '{"id": "t-invalid"}')  # no subject or body: never runs
    bad = _enqueue(runtime, BAD, _ticket(BAD, "Export broken", "The CSV export fails."))
    real_triage = ServiceRuntime._triage
    calls: list[str] = []

    def triage(self: ServiceRuntime, job: Job, prefetched: object = None) -> None:
        calls.append(f"{job.ticket_id}:{'batch' if prefetched is not None else 'alone'}")
        if job.ticket_id == BAD:
            raise RuntimeError("this ticket breaks")
        real_triage(self, job, prefetched)  # type: ignore[arg-type]

    monkeypatch.setattr(ServiceRuntime, "_triage", triage)
    worker = Worker(runtime, threading.Event())
    sizes: list[int] = []
    real_batch = worker.process_batch
    worker.process_batch = lambda jobs: (sizes.append(len(jobs)), real_batch(jobs))[1]  # type: ignore[method-assign]

    worker.run_until_idle()

    assert max(sizes) == 4 and all(size <= 4 for size in sizes)
    assert sorted(c for c in calls if c.split(":")[0] in {f"t{i}" for i in range(5)}) == [
        f"t{i}:batch" for i in range(5)
    ]
    rows = runtime.components.history.query("SELECT job_id, COUNT(*) AS n FROM results GROUP BY job_id", ())
    assert {r["job_id"]: r["n"] for r in rows} == dict.fromkeys(good, 1)
    states = {job_id: runtime.queue.get(job_id).state for job_id in [*good, invalid, bad]}  # type: ignore[union-attr]
    assert states == {**dict.fromkeys(good, "done"), invalid: "dead", bad: states[bad]}
    # The failing job's first attempt was in a batch; its retries (backoff 0) ran alone until it died.
    assert states[bad] == "dead"
    assert calls.count(f"{BAD}:batch") == 1
    assert calls.count(f"{BAD}:alone") == runtime.settings.job_max_attempts - 1

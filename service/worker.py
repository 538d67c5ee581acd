"""Worker loop: claim a job (or a small batch of triage jobs), keep the leases alive while they run, record
each job's success or failure on its own."""

from __future__ import annotations

import logging
import threading
import time

from agent.state import Prefetched
from knowledge.jobs import Job, LeaseLost
from service.runtime import InvalidPayload, ServiceRuntime

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, runtime: ServiceRuntime, stop: threading.Event, name: str = "worker") -> None:
        self.runtime = runtime
        self.stop = stop
        self.name = name
        self.processed = 0

    def run_forever(self) -> None:
        log.info("%s started", self.name)
        next_maintenance = time.monotonic()
        while not self.stop.is_set():
            if time.monotonic() >= next_maintenance:
                next_maintenance = time.monotonic() + self.runtime.settings.maintenance_interval_s
                self._maintain()
            try:
                jobs = self.claim_batch()
            except Exception:
                log.exception("%s: claiming a job failed; retrying", self.name)
                self.stop.wait(self.runtime.settings.worker_poll_s)
                continue
            if not jobs:
                self.stop.wait(self.runtime.settings.worker_poll_s)
                continue
            self.process_batch(jobs)
        log.info("%s stopped after %d jobs", self.name, self.processed)

    def _maintain(self) -> None:
        try:
            for line in self.runtime.maintain():
                log.info("%s: %s", self.name, line)
        except Exception:
            log.exception("%s: scheduled retraining / drift check failed; the next check retries", self.name)

    def run_until_idle(self) -> int:
        """Drain the queue and return (`caseworker worker --once`, tests)."""
        done = 0
        while jobs := self.claim_batch():
            self.process_batch(jobs)
            done += len(jobs)
        return done

    def claim_batch(self) -> list[Job]:
        """The next job; when it is a triage job on its first attempt, up to `worker_batch` - 1 more such jobs.

        Only first attempts share a batch: a job that may have crashed a worker runs alone, so a poison
        job costs each batch-mate at most one attempt."""
        queue = self.runtime.queue
        first = queue.claim()
        if first is None:
            return []
        jobs = [first]
        if first.kind != "triage" or first.attempts > 1:
            return jobs
        try:
            while len(jobs) < self.runtime.settings.worker_batch:
                more = queue.claim(("triage",), fresh_only=True)
                if more is None:
                    break
                jobs.append(more)
        except Exception:  # the jobs already leased still run; the next claim retries the database
            log.exception("%s: claiming batch-mates failed; running %d job(s)", self.name, len(jobs))
        return jobs

    def process_batch(self, jobs: list[Job]) -> None:
        """Each job run and recorded on its own (one result each, one failure each), with its triage inputs
        embedded, searched and scored together first; one heartbeat keeps every lease of the batch alive."""
        finished = threading.Event()
        heartbeat = threading.Thread(target=self._keep_leases, args=(jobs, finished), daemon=True)
        heartbeat.start()
        try:
            inputs = self._inputs(jobs)
            for job, prefetched in zip(jobs, inputs, strict=True):
                self._run_one(job, prefetched)
        finally:
            finished.set()
            heartbeat.join()

    def _inputs(self, jobs: list[Job]) -> list[Prefetched | None]:
        if len(jobs) == 1:
            return [None]
        try:
            return self.runtime.triage_inputs(jobs)
        except Exception:  # e.g. the model failed to load: each job's own run meets it and records it
            log.exception("%s: preparing a batch of %d jobs failed; running them one at a time", self.name, len(jobs))
            return [None] * len(jobs)

    def process(self, job: Job) -> None:
        self.process_batch([job])

    def _run_one(self, job: Job, prefetched: Prefetched | None) -> None:
        lease = job.lease
        try:
            self.runtime.run(job, prefetched)
            self.processed += 1
        except LeaseLost as exc:
            log.warning("%s: %s; another worker owns it now", self.name, exc)
        except Exception as exc:
            log.exception("%s: job %s (%s) failed on attempt %d", self.name, job.id, job.kind, job.attempts)
            try:
                retryable = not isinstance(exc, InvalidPayload)
                state = self.runtime.queue.fail(lease, f"{type(exc).__name__}: {exc}", retryable=retryable)
                log.info("%s: job %s is now %s", self.name, job.id, state)
            except LeaseLost:
                log.warning("%s: job %s failed after its lease lapsed", self.name, job.id)

    def _keep_leases(self, jobs: list[Job], finished: threading.Event) -> None:
        # A slow job (an LLM run), or one waiting for its batch-mates, must not look dead: renew at a third
        # of the lease. A job whose lease is lost is another worker's now; its own run finds that out.
        interval = self.runtime.settings.job_lease_s / 3
        held = list(jobs)
        while held and not finished.wait(interval):
            for job in list(held):
                if not self.runtime.queue.extend(job.lease):
                    log.warning("%s: job %s lost its lease while running", self.name, job.id)
                    held.remove(job)


def start_workers(runtime: ServiceRuntime, count: int, stop: threading.Event) -> list[threading.Thread]:
    threads = []
    for n in range(count):
        worker = Worker(runtime, stop, name=f"worker-{n + 1}")
        thread = threading.Thread(target=worker.run_forever, name=worker.name, daemon=True)
        thread.start()
        threads.append(thread)
    return threads

"""Worker loop: claim a job, keep its lease alive while it runs, record success or failure."""

from __future__ import annotations

import logging
import threading
import time

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
                job = self.runtime.queue.claim()
            except Exception:
                log.exception("%s: claiming a job failed; retrying", self.name)
                self.stop.wait(self.runtime.settings.worker_poll_s)
                continue
            if job is None:
                self.stop.wait(self.runtime.settings.worker_poll_s)
                continue
            self.process(job)
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
        while (job := self.runtime.queue.claim()) is not None:
            self.process(job)
            done += 1
        return done

    def process(self, job: Job) -> None:
        lease = job.lease
        finished = threading.Event()
        heartbeat = threading.Thread(target=self._keep_lease, args=(job, finished), daemon=True)
        heartbeat.start()
        try:
            self.runtime.run(job)
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
        finally:
            finished.set()
            heartbeat.join()

    def _keep_lease(self, job: Job, finished: threading.Event) -> None:
        # A slow job (an LLM run) must not look dead: renew at a third of the lease.
        interval = self.runtime.settings.job_lease_s / 3
        while not finished.wait(interval):
            if not self.runtime.queue.extend(job.lease):
                log.warning("%s: job %s lost its lease while running", self.name, job.id)
                return


def start_workers(runtime: ServiceRuntime, count: int, stop: threading.Event) -> list[threading.Thread]:
    threads = []
    for n in range(count):
        worker = Worker(runtime, stop, name=f"worker-{n + 1}")
        thread = threading.Thread(target=worker.run_forever, name=worker.name, daemon=True)
        thread.start()
        threads.append(thread)
    return threads

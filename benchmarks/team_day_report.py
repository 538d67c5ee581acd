"""What a team's day left behind, read from the HTTP exchanges and the history database, and the issue's
"at the end" list checked over it.

Each failure is tagged hostile when it comes from a hostile body (its post, its job, or its ticket), so
the run can tell what today's code gets wrong on ordinary traffic from what waits on the hostile-input
fixes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.team_day_traffic import Post
from benchmarks.webhook_load import percentile

#: A dead job is acceptable only when the ticket itself is invalid (the issue: "no job is dead except with
#: a validation reason"); the error text the worker stored must say so.
VALIDATION_MARKERS = ("validationerror", "validation error", "invalid")


def is_validation_reason(error: str | None) -> bool:
    return error is not None and any(marker in error.lower() for marker in VALIDATION_MARKERS)


@dataclass(frozen=True)
class Exchange:
    actor: str
    method: str
    path: str
    status: int
    detail: str = ""
    post: int | None = None  # index into the plan's posts
    job_id: str | None = None


class Exchanges:
    """Every HTTP answer of the day, from every actor (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[Exchange] = []

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self.items.append(exchange)

    def of(self, actor: str) -> list[Exchange]:
        with self._lock:
            return [e for e in self.items if e.actor == actor]


@dataclass
class Failure:
    rule: str
    what: str
    hostile: bool


@dataclass
class DayFigures:
    posts: list[Post]
    exchanges: Exchanges
    wall_s: float = 0.0
    setup_s: float = 0.0
    drain_s: float = 0.0
    kills: int = 0
    worker_starts: int = 0
    probes: dict[int, str] = field(default_factory=dict)  # worker slot -> "ok in N s" or the problem
    ops: list[str] = field(default_factory=list)
    review_decisions: Counter[tuple[str, int]] = field(default_factory=Counter)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    results_per_job: dict[str, int] = field(default_factory=dict)
    current_job: dict[str, str] = field(default_factory=dict)  # ticket id -> job id of its current result
    newest_job: dict[str, str] = field(default_factory=dict)  # ticket id -> its newest triage job

    # --- reading the database ----------------------------------------------------------------------
    def read_history(self, history: Path) -> None:
        with closing(sqlite3.connect(f"file:{history}?mode=ro", uri=True, timeout=30)) as conn:
            conn.row_factory = sqlite3.Row
            self.jobs = [dict(r) for r in conn.execute(
                "SELECT id, kind, source, ticket_id, state, attempts, last_error, created_at, finished_at, latency_ms "
                "FROM jobs ORDER BY created_at, rowid")]  # fmt: skip
            self.results_per_job = {r[0]: r[1] for r in conn.execute(
                "SELECT job_id, COUNT(*) FROM results WHERE job_id IS NOT NULL GROUP BY job_id")}  # fmt: skip
            self.current_job = {r[0]: r[1] for r in conn.execute(
                "SELECT ticket_id, job_id FROM results r WHERE seq = "
                "(SELECT MAX(seq) FROM results s WHERE s.tenant = r.tenant AND s.ticket_id = r.ticket_id)"
            )}  # fmt: skip
        for job in self.jobs:
            if job["kind"] == "triage":
                self.newest_job[job["ticket_id"]] = job["id"]  # ordered by created_at: the last one wins

    # --- what the run produced -----------------------------------------------------------------------
    def deliveries(self) -> list[Exchange]:
        return [e for e in self.exchanges.of("poster") + self.exchanges.of("probe") if e.post is not None]

    def accepted(self) -> list[Exchange]:
        return [e for e in self.deliveries() if e.status in (200, 202) and e.job_id]

    def hostile_jobs(self) -> set[str]:
        return {e.job_id for e in self.accepted() if e.job_id and self.posts[e.post or 0].hostile}

    def hostile_tickets(self) -> set[str]:
        return {p.ticket_id for p in self.posts if p.hostile}

    def failures(self) -> list[Failure]:
        """The issue's list: every accepted delivery has exactly one current result, no job is dead except
        with a validation reason, no response was 5xx, and every worker is still processing."""
        found: list[Failure] = []
        jobs = {job["id"]: job for job in self.jobs}
        hostile_jobs, hostile_tickets = self.hostile_jobs(), self.hostile_tickets()
        for e in self.accepted():
            post = self.posts[e.post or 0]
            job = jobs.get(e.job_id or "")
            n = self.results_per_job.get(e.job_id or "", 0)
            if job is None or n != 1:
                state = job["state"] if job else "missing"
                error = f", {job['last_error'][:120]}" if job and job["last_error"] else ""
                found.append(Failure("one result", f"{post.kind} {post.source} {post.ticket_id!r} -> job "
                                     f"{e.job_id} {state} with {n} results{error}", bool(post.hostile)))  # fmt: skip
                continue
            ticket = job["ticket_id"]
            if self.current_job.get(ticket) != self.newest_job.get(ticket):
                found.append(Failure("current result", f"{ticket!r}: current result from job "
                                     f"{self.current_job.get(ticket)}, newest job {self.newest_job.get(ticket)}",
                                     ticket in hostile_tickets))  # fmt: skip
        for job in self.jobs:
            if job["state"] == "dead" and not is_validation_reason(job["last_error"]):
                hostile = job["id"] in hostile_jobs or job["ticket_id"] in hostile_tickets
                found.append(Failure("dead job", f"{job['kind']} {job['id']} ({job['ticket_id']!r}): "
                                     f"{(job['last_error'] or '')[:160]}", hostile))  # fmt: skip
        for e in self.exchanges.items:
            if e.status >= 500 and e.path != "/readyz":
                hostile = e.post is not None and bool(self.posts[e.post].hostile)
                found.append(Failure("5xx", f"{e.actor} {e.method} {e.path} -> {e.status} {e.detail[:120]}", hostile))
        for slot, outcome in sorted(self.probes.items()):
            if not outcome.startswith("ok"):
                found.append(Failure("worker processing", f"worker {slot}: {outcome}", False))
        if not self.probes:
            found.append(Failure("worker processing", "no worker was probed", False))
        return found

    # --- figures -------------------------------------------------------------------------------------
    def latencies_s(self) -> tuple[list[float], list[float]]:
        """(queue-to-result seconds, graph seconds) of every done triage job."""
        total, graph = [], []
        for job in self.jobs:
            if job["kind"] == "triage" and job["state"] == "done" and job["finished_at"]:
                start, end = datetime.fromisoformat(job["created_at"]), datetime.fromisoformat(job["finished_at"])
                total.append((end - start).total_seconds())
                graph.append((job["latency_ms"] or 0) / 1000)
        return total, graph

    def _spread(self, values: list[float]) -> str:
        return (f"p50 {percentile(values, 0.5):.2f} s, p95 {percentile(values, 0.95):.2f} s, "
                f"max {max(values, default=0):.2f} s")  # fmt: skip

    def _delivery_lines(self) -> list[str]:
        deliveries = self.deliveries()
        post = lambda e: self.posts[e.post or 0]  # noqa: E731
        kinds = Counter(post(e).kind for e in deliveries)
        by_source = Counter((post(e).source, e.status) for e in deliveries)
        hostile = Counter((post(e).hostile, post(e).source, e.status) for e in deliveries if post(e).hostile)
        redeliveries = [e for e in deliveries if post(e).kind == "redelivery"]
        first_job = {e.post: e.job_id for e in deliveries}
        same_job = sum(1 for e in redeliveries if e.job_id and e.job_id == first_job.get(post(e).repeats))
        return [
            f"deliveries: {len(deliveries)} posted ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); "
            f"{len(self.accepted())} accepted; redeliveries answered with their first job: "
            f"{same_job}/{len(redeliveries)}",
            "  by source and status: " + ", ".join(f"{s} {st}: {n}" for (s, st), n in sorted(by_source.items())),
            "  hostile (kind source status): "
            + ", ".join(f"{k} {s} {st}" + (f" x{n}" if n > 1 else "") for (k, s, st), n in sorted(hostile.items())),
        ]

    def lines(self) -> list[str]:
        total, graph = self.latencies_s()
        states = Counter((j["kind"], j["state"]) for j in self.jobs)
        readyz = Counter(e.status for e in self.exchanges.of("monitor") if e.path == "/readyz")
        not_ready: dict[str, list[str]] = {}  # failing check -> its details, in order
        for e in self.exchanges.of("monitor"):
            for reason in e.detail.split("; ") if e.status == 503 else ():
                not_ready.setdefault(reason.split(":")[0], []).append(reason)
        dead = [j for j in self.jobs if j["state"] == "dead"]
        failures = self.failures()
        return [
            f"wall time {self.wall_s:.0f} s for the day (plus {self.setup_s:.0f} s training the sample data dir); "
            f"queue drained {self.drain_s:.0f} s after the last post",
            *self._delivery_lines(),
            f"results: {sum(self.results_per_job.values())} stored for {len(self.results_per_job)} jobs; "
            f"{len(self.current_job)} tickets with a current result",
            "jobs: " + ", ".join(f"{k} {s} {n}" for (k, s), n in sorted(states.items())),
            f"job latency (queued -> result): {self._spread(total)}; graph time: {self._spread(graph)}",
            "review decisions: " + ", ".join(f"{d} -> {s}: {n}" for (d, s), n in sorted(self.review_decisions.items())),
            f"workers: SIGKILLed {self.kills}, {self.worker_starts} starts in all; probes: "
            + ", ".join(f"worker {slot} {outcome}" for slot, outcome in sorted(self.probes.items())),
            *[f"ops: {line}" for line in self.ops],
            "readyz: " + ", ".join(f"{s}: {n}" for s, n in sorted(readyz.items())),
            *[f"  not ready {len(seen)} times on {name}, last: {seen[-1]}" for name, seen in not_ready.items()],
            f"dead jobs: {len(dead)}",
            *[f"  dead: {j['id']} {j['ticket_id']!r}: {(j['last_error'] or '')[:160]!r}" for j in dead],
            f"failures: {sum(not f.hostile for f in failures)} on ordinary traffic, "
            f"{sum(f.hostile for f in failures)} from hostile bodies",
            *[f"  [{'hostile' if f.hostile else 'ORDINARY'}] {f.rule}: {f.what}" for f in failures],
        ]

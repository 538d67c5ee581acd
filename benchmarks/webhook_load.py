"""Webhook intake under load while the worker process is killed: what a helpdesk burst looks like.

    .venv/bin/python benchmarks/webhook_load.py --deliveries 2000 --duplicates 0.1 --concurrency 50 --kills 2

Trains a data dir on the bundled sample company, starts `caseworker serve --workers 0` (intake only) and
a separate `caseworker worker` on 127.0.0.1, posts signed generic-webhook deliveries (a share of them
redelivered with the same delivery id) at the given concurrency, SIGKILLs the worker `--kills` times
while it works and restarts it, waits for the queue to drain, then checks that every distinct delivery
has exactly one stored result and no job is stuck. Prints accepted requests/s, p50/p95 acceptance
latency, drain time, and the check. tests/test_service_crash.py runs the same scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from knowledge.history import History
from tools.helpdesk.generic import sign as sign_generic

SECRET = "load-test-secret"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcesses:
    """`caseworker serve` (intake only) and `caseworker worker` processes in slots, as real processes on 127.0.0.1."""

    def __init__(
        self, data_dir: Path, secret: str = SECRET, lease_s: float = 3.0, env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "CASEWORKER_DATA_DIR": str(data_dir),
            "CASEWORKER_WEBHOOK_SECRET": secret,
            "CASEWORKER_JOB_LEASE_S": str(lease_s),
            "CASEWORKER_JOB_RETRY_BASE_S": "0.5",
            "CASEWORKER_WORKER_POLL_S": "0.1",
            "CASEWORKER_EMBEDDING_THREADS": "1",
            **(env or {}),
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: dict[int, subprocess.Popen[bytes]] = {}
        self.worker_starts = 0

    def _spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        # Logs go to files: a full pipe would block the process under test.
        out = open(self.data_dir / log, "ab")  # noqa: SIM115 - closed when the process is reaped
        return subprocess.Popen([sys.executable, "-m", "caseworker.cli", *args], env=self.env, stdout=out, stderr=out)

    def start_server(self, timeout_s: float = 60) -> None:
        self.server = self._spawn("serve", "--workers", "0", "--port", str(self.port), "--log-level", "warning",
                                  log="serve.log")  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"serve exited with {self.server.returncode}: see {self.data_dir / 'serve.log'}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"serve was not ready (/readyz) in {timeout_s} s")

    def start_worker(self, slot: int = 0) -> None:
        self.worker_starts += 1
        self.workers[slot] = self._spawn("worker", "--log-level", "warning",
                                         log=f"worker-{slot}-{self.worker_starts}.log")  # fmt: skip

    def server_cpu_s(self) -> float:
        """CPU seconds the server process has used (Linux /proc), to tell its cost from the load client's."""
        assert self.server is not None
        fields = Path(f"/proc/{self.server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill_worker(self, slot: int = 0) -> None:
        worker = self.workers[slot]
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    def stop(self) -> None:
        for proc in (*self.workers.values(), self.server):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a paused process can't act on SIGTERM
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@dataclass
class Delivery:
    delivery_id: str
    body: bytes


def make_deliveries(texts: list[tuple[str, str]], count: int, duplicate_share: float, seed: int = 7) -> list[Delivery]:
    """`count` posts, of which about `duplicate_share` repeat an earlier delivery id (a helpdesk redelivery)."""
    rng = random.Random(seed)
    distinct = round(count * (1 - duplicate_share))
    originals = []
    for i in range(distinct):
        subject, body = texts[i % len(texts)]
        ticket = {"id": f"load-{i}", "subject": subject, "body": body}
        originals.append(Delivery(f"delivery-{i}", json.dumps(ticket).encode()))
    posts = originals + [rng.choice(originals) for _ in range(count - distinct)]
    rng.shuffle(posts)
    return posts


@dataclass
class LoadResult:
    statuses: list[int] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    job_ids: dict[str, set[str]] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def accepted(self) -> int:
        return sum(1 for s in self.statuses if s in (200, 202))


async def _post_all(url: str, secret: str, posts: list[Delivery], concurrency: int) -> LoadResult:
    result = LoadResult()
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def post(delivery: Delivery) -> None:
            async with gate:
                headers = {**sign_generic(secret, delivery.body, time.time()), "Content-Type": "application/json",
                           "X-Caseworker-Delivery": delivery.delivery_id}  # fmt: skip
                started = time.perf_counter()
                response = await client.post("/webhooks/generic", content=delivery.body, headers=headers)
                result.latencies_s.append(time.perf_counter() - started)
                result.statuses.append(response.status_code)
                if response.status_code in (200, 202):
                    result.job_ids.setdefault(delivery.delivery_id, set()).add(response.json()["job_id"])

        started = time.perf_counter()
        await asyncio.gather(*(post(d) for d in posts))
        result.wall_s = time.perf_counter() - started
    return result


def post_all(url: str, posts: list[Delivery], concurrency: int, secret: str = SECRET) -> LoadResult:
    return asyncio.run(_post_all(url, secret, posts, concurrency))


def open_history(data_dir: Path, database_url: str | None = None) -> History:
    """The scenario's history: the data dir's SQLite file, or the Postgres the processes share."""
    return History(data_dir / "history.sqlite3", database_url)


def done_jobs(history: History) -> int:
    return int(history.query_one("SELECT COUNT(*) FROM jobs WHERE state = 'done'")[0])


@dataclass
class Check:
    distinct: int
    jobs: int
    results: int
    jobs_with_one_result: int
    jobs_not_done: int
    duplicate_results: int
    #: Jobs run more than once: the ones a killed worker held, picked up again after their lease lapsed.
    rerun: int

    @property
    def ok(self) -> bool:
        return (self.jobs == self.distinct == self.results == self.jobs_with_one_result
                and self.jobs_not_done == 0 and self.duplicate_results == 0)  # fmt: skip


def check(history: History, distinct: int) -> Check:
    def one(sql: str) -> int:
        return int(history.query_one(sql)[0])

    return Check(
        distinct=distinct,
        jobs=one("SELECT COUNT(*) FROM jobs WHERE kind = 'triage'"),
        results=one("SELECT COUNT(*) FROM results WHERE job_id IS NOT NULL"),
        jobs_with_one_result=one(
            "SELECT COUNT(*) FROM jobs j WHERE kind = 'triage' AND state = 'done' AND "
            "(SELECT COUNT(*) FROM results r WHERE r.job_id = j.id) = 1 AND result_seq IS NOT NULL"
        ),
        jobs_not_done=one("SELECT COUNT(*) FROM jobs WHERE state != 'done'"),
        duplicate_results=one(
            "SELECT COUNT(*) FROM (SELECT ticket_id FROM results GROUP BY tenant, ticket_id HAVING COUNT(*) > 1) AS d"
        ),
        rerun=one("SELECT COUNT(*) FROM jobs WHERE attempts > 1"),
    )


@dataclass
class ScenarioReport:
    load: LoadResult
    check: Check
    kills: int
    drain_s: float
    server_cpu_s: float
    client_cpu_s: float

    def lines(self) -> list[str]:
        load = self.load
        return [
            f"posted {len(load.statuses)} deliveries ({self.check.distinct} distinct) in {load.wall_s:.2f} s",
            f"accepted {load.accepted} ({load.statuses.count(202)} queued, {load.statuses.count(200)} duplicates): "
            f"{load.accepted / load.wall_s:.1f} requests/s",
            f"acceptance latency p50 {percentile(load.latencies_s, 0.5) * 1000:.1f} ms, "
            f"p95 {percentile(load.latencies_s, 0.95) * 1000:.1f} ms, max {max(load.latencies_s) * 1000:.1f} ms",
            f"CPU while posting: server {self.server_cpu_s:.1f} s "
            f"({self.server_cpu_s / len(load.statuses) * 1000:.2f} ms per request), "
            f"load client {self.client_cpu_s:.1f} s",
            f"worker SIGKILLed {self.kills} times ({self.check.rerun} jobs rerun after their lease lapsed); "
            f"queue drained {self.drain_s:.1f} s after the last post",
            f"check: {self.check.jobs} jobs, {self.check.results} results, {self.check.jobs_with_one_result} jobs "
            f"with exactly one result, {self.check.jobs_not_done} not done → {'OK' if self.check.ok else 'FAILED'}",
        ]


def run_scenario(
    data_dir: Path,
    texts: list[tuple[str, str]],
    deliveries: int = 2000,
    duplicate_share: float = 0.1,
    concurrency: int = 50,
    kills: int = 2,
    drain_timeout_s: float = 900,
    workers: int = 1,
    database_url: str | None = None,
    chroma_url: str | None = None,
) -> ScenarioReport:
    """Post the load to `serve --workers 0` while `workers` worker processes triage it; SIGKILL a worker `kills`
    times (spread over the work, taking the worker slots in turn) and restart it; then drain and check. With
    URLs, every process shares that Postgres and Chroma server instead of the data dir's files."""
    posts = make_deliveries(texts, deliveries, duplicate_share)
    distinct = len({p.delivery_id for p in posts})
    urls = {"CASEWORKER_DATABASE_URL": database_url, "CASEWORKER_CHROMA_URL": chroma_url}
    procs = ServiceProcesses(data_dir, env={k: v for k, v in urls.items() if v})
    history = open_history(data_dir, database_url)
    killed = 0
    try:
        procs.start_server()
        for slot in range(workers):
            procs.start_worker(slot)
        stop = threading.Event()

        def killer() -> None:
            nonlocal killed
            thresholds = [distinct * (n + 1) // (kills + 2) for n in range(kills)]
            for n, threshold in enumerate(thresholds):
                while not stop.is_set() and done_jobs(history) < threshold:
                    time.sleep(0.05)
                if stop.is_set():
                    return
                procs.kill_worker(n % workers)
                killed += 1
                procs.start_worker(n % workers)

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        server_cpu, client_cpu = procs.server_cpu_s(), time.process_time()
        load = post_all(procs.url, posts, concurrency)
        server_cpu, client_cpu = procs.server_cpu_s() - server_cpu, time.process_time() - client_cpu
        posted_at = time.monotonic()
        deadline = posted_at + drain_timeout_s
        while time.monotonic() < deadline and (thread.is_alive() or done_jobs(history) < distinct):
            time.sleep(0.2)
        stop.set()
        thread.join(timeout=5)
        drain_s = time.monotonic() - posted_at
        return ScenarioReport(load=load, check=check(history, distinct), kills=killed, drain_s=drain_s,
                              server_cpu_s=server_cpu, client_cpu_s=client_cpu)  # fmt: skip
    finally:
        procs.stop()
        history.close()


def sample_texts() -> list[tuple[str, str]]:
    from caseworker.demo import sample_dir

    texts = []
    for name in ("incoming.jsonl", "history.jsonl"):
        for line in (sample_dir() / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts.append((row["subject"], row["body"]))
    return texts


def train_sample(data_dir: Path, database_url: str | None = None, chroma_url: str | None = None) -> None:
    from caseworker.demo import sample_dir
    from config.components import Components
    from config.settings import Settings
    from knowledge.importers import read_tickets
    from knowledge.kb_importer import read_kb

    samples = sample_dir()
    workspace = Components(Settings(data_dir=data_dir, database_url=database_url, chroma_url=chroma_url))
    workspace.install_taxonomy(samples / "taxonomy.toml")
    workspace.ingest.tickets(read_tickets(samples / "history.jsonl").tickets)
    workspace.ingest.kb(read_kb(samples / "kb").articles)
    workspace.train()
    workspace.history.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of posts that redeliver an earlier id")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--kills", type=int, default=2, help="times the worker is SIGKILLed and restarted")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        print("training the sample company ...", flush=True)
        train_sample(data_dir)
        report = run_scenario(data_dir, sample_texts(), args.deliveries, args.duplicates, args.concurrency, args.kills)
        for line in report.lines():
            print(line)
        if not report.check.ok:
            sys.exit(1)


if __name__ == "__main__":
    main()

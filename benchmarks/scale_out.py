"""Scale-out: triage throughput with 1, 2 and 4 worker processes, on the embedded SQLite + Chroma directory and
on Postgres + a Chroma server, with the same tickets, in one run.

    CASEWORKER_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/scale_out.py [--tickets 300] [--workers 1 2 4]

For each backend and worker count: a fresh store trained on the bundled sample company, `caseworker serve
--workers 0` plus N `caseworker worker` processes on 127.0.0.1, `--tickets` distinct signed deliveries posted
at concurrency 20, then the time until the queue is drained. Prints accepted requests/s while posting,
triage throughput (tickets / (drain end - first post)), p50/p95 job latency (queued -> result, from the
database) and per-worker efficiency (throughput per worker / the one-worker throughput of the same backend).
The Postgres rows need a Postgres URL (the variable above, or --database-url); the Chroma server is started
here (`chroma run`). Every process shares the machine's cores with the load client and the servers, so the
figures say how the design scales on this machine, not what a cluster would do.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.webhook_load import (  # noqa: E402
    ServiceProcesses,
    check,
    done_jobs,
    make_deliveries,
    open_history,
    percentile,
    post_all,
    sample_texts,
    train_sample,
)
from tests.chroma_server import chroma_server  # noqa: E402
from tests.postgres import with_search_path  # noqa: E402


@dataclass
class Row:
    backend: str
    workers: int
    accepted_per_s: float
    tickets_per_s: float
    p50_s: float
    p95_s: float
    ok: bool


def _latencies(history: object) -> list[float]:
    rows = history.query("SELECT created_at, finished_at FROM jobs WHERE kind = 'triage' AND state = 'done'")  # type: ignore[attr-defined]
    return [
        (datetime.fromisoformat(r["finished_at"]) - datetime.fromisoformat(r["created_at"])).total_seconds()
        for r in rows
    ]


def run(backend: str, workers: int, tickets: int, root: Path, database_url: str | None, chroma_url: str | None) -> Row:
    data_dir = root / f"{backend}-{workers}"
    train_sample(data_dir, database_url, chroma_url)
    urls = {"CASEWORKER_DATABASE_URL": database_url, "CASEWORKER_CHROMA_URL": chroma_url}
    procs = ServiceProcesses(data_dir, lease_s=60, env={k: v for k, v in urls.items() if v})
    history = open_history(data_dir, database_url)
    posts = make_deliveries(sample_texts(), tickets, duplicate_share=0.0)
    try:
        procs.start_server()
        for slot in range(workers):
            procs.start_worker(slot)
        time.sleep(5)  # the workers load the model before the first post
        started = time.monotonic()
        load = post_all(procs.url, posts, concurrency=20)
        while done_jobs(history) < tickets and time.monotonic() - started < 1800:
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        latencies = _latencies(history)
        verdict = check(history, tickets)
    finally:
        procs.stop()
        history.close()
    return Row(backend, workers, load.accepted / load.wall_s, tickets / elapsed, percentile(latencies, 0.5),
               percentile(latencies, 0.95), verdict.ok)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--database-url", default=os.environ.get("CASEWORKER_TEST_DATABASE_URL"))
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="caseworker-scale-") as tmp:
        root = Path(tmp)
        for workers in args.workers:
            rows.append(run("sqlite", workers, args.tickets, root, None, None))
            print(rows[-1], flush=True)
        if args.database_url:
            import psycopg

            for workers in args.workers:
                schema = f"cw_scale_{workers}_{os.getpid()}"
                with psycopg.connect(args.database_url, autocommit=True) as conn:
                    conn.execute(f'CREATE SCHEMA "{schema}"')
                try:
                    with chroma_server(root / f"chroma-{workers}") as chroma_url:
                        url = with_search_path(args.database_url, schema)
                        rows.append(run("postgres+chroma", workers, args.tickets, root, url, chroma_url))
                        print(rows[-1], flush=True)
                finally:
                    with psycopg.connect(args.database_url, autocommit=True) as conn:
                        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            print("no Postgres URL (CASEWORKER_TEST_DATABASE_URL or --database-url): Postgres rows skipped")
    base = {r.backend: r.tickets_per_s for r in rows if r.workers == 1}
    columns = ("backend", "workers", "accepted req/s", "tickets/s", "p50 job latency", "p95 job latency",
               "per-worker efficiency", "check")  # fmt: skip
    print("\n| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        efficiency = r.tickets_per_s / r.workers / base[r.backend] if r.backend in base else float("nan")
        print(f"| {r.backend} | {r.workers} | {r.accepted_per_s:.1f} | {r.tickets_per_s:.2f} | {r.p50_s:.1f} s | "
              f"{r.p95_s:.1f} s | {efficiency:.2f} | {'ok' if r.ok else 'FAILED'} |")  # fmt: skip
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""A team's day: real `caseworker serve --workers 0` and two `caseworker worker` processes on one data dir.

    .venv/bin/python benchmarks/team_day.py --deliveries 500 --post-seconds 150
    .venv/bin/python benchmarks/team_day.py --trained DIR --keep OUT   # reuse a trained data dir, keep the logs

Trains the bundled sample company, then over the posting window sends signed deliveries from all five
sources (10 % redeliveries, 10 % follow-up messages, 5 % hostile bodies; see team_day_traffic.py) while
a reviewer signs in to the review API and decides a draft every few seconds (approve, edit and approve,
reject with corrected labels), an operator runs `caseworker ingest tickets` and `caseworker train`
halfway, and one worker is SIGKILLed and restarted. Then it waits for the queue to drain, proves each
worker still takes work (the other one paused, probe tickets posted), and checks the issue's list:
every accepted delivery has exactly one current result, no job is dead except with a validation
reason, no response was 5xx, every worker is still processing. Prints the figures; exits 1 on a failure.
tests/test_team_day.py runs the same day.
"""

from __future__ import annotations

import argparse
import json
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: import the sibling modules

from benchmarks.team_day_report import DayFigures, Exchange, Exchanges
from benchmarks.team_day_traffic import Post, TrafficPlan, make_traffic, probe_post
from benchmarks.webhook_load import ServiceProcesses, sample_texts, train_sample

SECRET = "team-day-webhook-secret"
TOKEN = "team-day-review-token-of-forty-characters"
WORKERS = (0, 1)


@dataclass(frozen=True)
class DayConfig:
    deliveries: int = 500
    post_seconds: float = 150.0
    review_every_s: float = 3.0
    kill_at: float = 0.3  # share of the posting window
    ops_at: float = 0.5
    drain_timeout_s: float = 240.0
    probe_timeout_s: float = 90.0
    posters: int = 3
    seed: int = 11
    #: CASEWORKER_* settings for every process of the day (serve, workers, the operator's CLI commands).
    settings_env: dict[str, str] = field(default_factory=dict)


def _env() -> dict[str, str]:
    secrets = {f"CASEWORKER_{s}_SECRET": SECRET for s in ("ZENDESK", "INTERCOM", "JIRA", "FRESHDESK")}
    # Redeliveries repeat the first bytes, whose Intercom/Jira timestamps age through the day.
    return {**secrets, "CASEWORKER_API_TOKEN": TOKEN, "CASEWORKER_WEBHOOK_TOLERANCE_S": "1800",
            "CASEWORKER_JOB_LEASE_S": "5"}  # fmt: skip


def _send(client: httpx.Client, log: Exchanges, actor: str, index: int, post: Post) -> None:
    try:
        response = client.post(post.path, content=post.body, headers=post.headers(SECRET, time.time()))
    except httpx.HTTPError as exc:
        log.add(Exchange(actor, "POST", post.path, 599, f"{type(exc).__name__}: {exc}", index))
        return
    job_id = None
    if response.status_code in (200, 202):
        job_id = response.json().get("job_id")
    log.add(Exchange(actor, "POST", post.path, response.status_code, response.text[:300], index, job_id))


def post_paced(url: str, plan: TrafficPlan, log: Exchanges, seconds: float, posters: int) -> None:
    """Each post at its place in the window, a few in flight at once as helpdesks send them."""
    todo: queue.Queue[int] = queue.Queue()
    for i in range(len(plan.posts)):
        todo.put(i)
    started, step = time.monotonic(), seconds / max(1, len(plan.posts))

    def worker() -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                time.sleep(max(0.0, started + i * step - time.monotonic()))
                _send(client, log, "poster", i, plan.posts[i])

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(posters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _categories(data_dir: Path) -> dict[str, str]:
    from config.components import Components
    from config.settings import Settings

    components = Components(Settings(data_dir=data_dir))
    try:
        taxonomy = components.taxonomy
    finally:
        components.history.close()
    return {name: spec.queue or "" for name, spec in (taxonomy.categories if taxonomy else {}).items()}


def review(url: str, data_dir: Path, log: Exchanges, figures: DayFigures, stop: threading.Event, every: float) -> None:
    """A reviewer in the browser's shoes: signs in for the cookie, sends its own Origin, decides in turn."""
    categories = sorted(_categories(data_dir).items())
    origin = {"Origin": url}
    with httpx.Client(base_url=url, timeout=60) as client:
        signed_in = client.post("/review/login", data={"token": TOKEN}, headers=origin)
        log.add(Exchange("reviewer", "POST", "/review/login", signed_in.status_code))
        n = 0
        while not stop.wait(every):
            listed = client.get("/api/reviews", params={"limit": 20})
            log.add(Exchange("reviewer", "GET", "/api/reviews", listed.status_code, listed.text[:200]))
            items = listed.json().get("items", []) if listed.status_code == 200 else []
            if not items:
                continue
            item = items[0]
            detail = client.get(f"/api/reviews/{item['id']}")
            log.add(Exchange("reviewer", "GET", "/api/reviews/{id}", detail.status_code, detail.text[:200]))
            result = (detail.json().get("result") or {}) if detail.status_code == 200 else {}
            predicted = ((result.get("classification") or {}).get("category") or {}).get("value")
            other, queue_name = next((c, q) for c, q in categories if c != predicted)
            draft = (result.get("draft") or {}).get("body") or "Hello"
            kind, path, body = [
                ("approve", "approve", {"reviewer": "sam"}),
                ("edit", "approve", {"reply": draft + "\n\n(checked by Sam)", "labels": {"priority": "P2"},
                                     "reviewer": "sam"}),
                ("reject", "reject", {"reason": "wrong category", "labels": {"category": other, "queue": queue_name},
                                      "reviewer": "sam"}),
            ][n % 3]  # fmt: skip
            decided = client.post(f"/api/reviews/{item['id']}/{path}", json=body, headers=origin)
            log.add(
                Exchange("reviewer", "POST", f"/api/reviews/{{id}}/{path}", decided.status_code, decided.text[:200])
            )
            figures.review_decisions[(kind, decided.status_code)] += 1
            n += 1


def _cli(procs: ServiceProcesses, *args: str) -> str:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "caseworker.cli", *args], env=procs.env, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
    command = " ".join(args[:2] if args[0] == "ingest" else args[:1])
    return f"`caseworker {command}` exit {done.returncode} in {time.monotonic() - started:.1f} s: {tail[0][:160]}"


def operate(procs: ServiceProcesses, tmp: Path, figures: DayFigures) -> None:
    """An operator, mid-day: imports a small file of resolved tickets (copies of the data dir's own, under new
    ids), then retrains."""
    from knowledge.history import History

    history = History(procs.data_dir / "history.sqlite3")
    try:
        tickets = [t for t in history.all_tickets(resolved_only=True) if t.labels][:20]
    finally:
        history.close()
    rows = [{"id": f"TD-ING-{i}", "subject": t.subject, "body": t.body, "reply": t.reply, **t.labels}
            for i, t in enumerate(tickets)]  # fmt: skip
    file = tmp / "more_history.jsonl"
    file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    figures.ops.append(_cli(procs, "ingest", "tickets", str(file)))
    figures.ops.append(_cli(procs, "train"))


def at(delay: float, action: Callable[[], None], stop: threading.Event) -> threading.Thread:
    def run() -> None:
        if not stop.wait(delay):
            action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def monitor(url: str, log: Exchanges, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.wait(2.0):
            for path in ("/livez", "/readyz"):
                try:
                    response = client.get(path)
                except httpx.HTTPError as exc:
                    log.add(Exchange("monitor", "GET", path, 599, type(exc).__name__))
                    continue
                failing = ""
                if response.status_code == 503:
                    checks = response.json().get("checks", {})
                    failing = "; ".join(f"{k}: {v['detail']}" for k, v in checks.items() if not v["ok"])
                log.add(Exchange("monitor", "GET", path, response.status_code, failing))


def unfinished(history: Path) -> int:
    with sqlite3.connect(history, timeout=30) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running', 'failed')")
                   .fetchone()[0])  # fmt: skip


def wait_drained(history: Path, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if unfinished(history) == 0:
            return True
        time.sleep(0.5)
    return False


def probe_workers(procs: ServiceProcesses, plan: TrafficPlan, log: Exchanges, figures: DayFigures,
                  timeout_s: float) -> None:  # fmt: skip
    """Each worker alone (the others paused) must take and finish fresh tickets: it is still processing."""
    texts = sample_texts()
    history = procs.data_dir / "history.sqlite3"
    with httpx.Client(base_url=procs.url, timeout=60) as client:
        for slot in WORKERS:
            others = [procs.workers[s] for s in WORKERS if s != slot]
            if procs.workers[slot].poll() is not None:
                figures.probes[slot] = f"exited with {procs.workers[slot].returncode}"
                continue
            for proc in others:
                proc.send_signal(signal.SIGSTOP)
            try:
                started = time.monotonic()
                for k in range(2):
                    plan.posts.append(probe_post(len(plan.posts), texts[k], time.time()))
                    _send(client, log, "probe", len(plan.posts) - 1, plan.posts[-1])
                drained = wait_drained(history, timeout_s)
                took = time.monotonic() - started
                figures.probes[slot] = f"ok in {took:.1f} s" if drained else f"took no probe in {timeout_s:.0f} s"
            finally:
                for proc in others:
                    proc.send_signal(signal.SIGCONT)


def run_day(data_dir: Path, config: DayConfig, setup_s: float = 0.0) -> DayFigures:
    texts = sample_texts()
    plan = make_traffic(texts, config.deliveries, seed=config.seed)
    log = Exchanges()
    figures = DayFigures(posts=plan.posts, exchanges=log, setup_s=setup_s)
    procs = ServiceProcesses(data_dir, secret=SECRET, lease_s=5.0, env={**_env(), **config.settings_env})
    history = data_dir / "history.sqlite3"
    stop, started = threading.Event(), time.monotonic()
    try:
        procs.start_server()
        for slot in WORKERS:
            procs.start_worker(slot)

        def kill() -> None:
            procs.kill_worker(0)
            figures.kills += 1
            procs.start_worker(0)

        actors = [
            threading.Thread(target=monitor, args=(procs.url, log, stop), daemon=True),
            threading.Thread(
                target=review, args=(procs.url, data_dir, log, figures, stop, config.review_every_s), daemon=True
            ),
        ]
        for actor in actors:
            actor.start()
        window = config.post_seconds
        timed = [at(config.kill_at * window, kill, stop),
                 at(config.ops_at * window, lambda: operate(procs, data_dir.parent, figures), stop)]  # fmt: skip
        post_paced(procs.url, plan, log, config.post_seconds, config.posters)
        posted = time.monotonic()
        for thread in timed:
            thread.join()
        wait_drained(history, config.drain_timeout_s)
        stop.set()  # the reviewer stops deciding; what it approved last still has to be written back
        for actor in actors:
            actor.join(timeout=60)
        wait_drained(history, config.drain_timeout_s)
        figures.drain_s = time.monotonic() - posted
        probe_workers(procs, plan, log, figures, config.probe_timeout_s)
        figures.worker_starts = procs.worker_starts
        figures.wall_s = time.monotonic() - started
        figures.read_history(history)
        return figures
    finally:
        stop.set()
        procs.stop()


def prepare(work: Path, trained: Path | None) -> tuple[Path, float]:
    """A trained data dir under `work`: a copy of `trained`, or the sample company trained afresh."""
    data_dir, started = work / "data", time.monotonic()
    if trained is not None:
        shutil.copytree(trained, data_dir)
    else:
        print("training the sample company ...", flush=True)
        train_sample(data_dir)
    return data_dir, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--post-seconds", type=float, default=150.0, help="the posting window")
    parser.add_argument("--review-every", type=float, default=3.0, help="seconds between review decisions")
    parser.add_argument("--trained", type=Path, help="copy this trained data dir instead of training the sample")
    parser.add_argument("--keep", type=Path, help="a new folder to leave the day's data dir and logs in")
    args = parser.parse_args()
    config = DayConfig(deliveries=args.deliveries, post_seconds=args.post_seconds, review_every_s=args.review_every)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data_dir, setup_s = prepare(work, args.trained)
        figures = run_day(data_dir, config, setup_s=setup_s)
        for line in figures.lines():
            print(line)
        if figures.failures():
            sys.exit(1)


if __name__ == "__main__":
    main()

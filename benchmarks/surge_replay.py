"""Surge replay: does the emerging-incident detector see injected bursts in a stream of real messages?

Simulation (its assumptions):
- background: BANKING77 customer messages (../shared/data/banking77/train.csv, real paraphrases of 77
  intents), drawn at random from a pool of `--pool` messages, arriving as a Poisson process whose rate per
  weekday and hour is the UCI incident log's mean over its dense period (2016-02-29..05-31: ~265 a day,
  busy weekday mornings, quiet nights and weekends); each message's intent is its category label (the
  detector's "shared category where labelled" is off: `--labelled` turns it on);
- the first week is warm-up (history for the expected rates); bursts come in the following `--weeks`:
  `--bursts-per-week` bursts at uniformly random times, each of 5–30 extra messages of one random intent
  (uniform size), spread uniformly over a random 20–120 minutes; the intent's normal share keeps arriving;
- no lead acts on proposals (nothing is accepted or dismissed), so an incident keeps absorbing matches for
  the policy's attach window; a burst whose first match joins an already open incident counts as seen;
- a proposal whose opening group holds no burst message is a false alarm.
Prints recall for bursts of 5–7 and of 8+ messages, detection delay (burst messages arrived when the
proposal opened: median, 90th percentile), false alarms per simulated week, and throughput.

    .venv/bin/python benchmarks/surge_replay.py [--similarity 0.6 --min-size 5 --ratio 8 --min-expected 0.5]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.uci_incidents import DENSE_END, DENSE_START, opened_times
from insights.surge import SurgeDetector, SurgePolicy
from knowledge.embeddings import local_embedder
from knowledge.history import History
from knowledge.incidents import IncidentBook, Observation

BANKING = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "banking77" / "train.csv"
START = DENSE_START + timedelta(days=91)  # a Monday after the profile's period; the dates are simulated


def _profile() -> dict[tuple[int, int], float]:
    times = opened_times()
    weeks = (DENSE_END - DENSE_START).days / 7
    counts = Counter((t.weekday(), t.hour) for t in times)
    return {(d, h): counts[(d, h)] / weeks for d in range(7) for h in range(24)}


def _pool(size: int, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    if not BANKING.exists():
        raise SystemExit(f"skipped: {BANKING} is absent (BANKING77 lives in ../shared/data)")
    with BANKING.open(encoding="utf-8") as f:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(f)]
    picked = rng.choice(len(rows), size=min(size, len(rows)), replace=False)
    return [rows[i][0] for i in picked], [rows[i][1] for i in picked]


def _stream(args: argparse.Namespace, intents: list[str], rng: np.random.Generator) -> list[tuple]:
    """(time, pool index, burst id or -1) sorted by time."""
    profile = _profile()
    by_intent: dict[str, list[int]] = {}
    for i, intent in enumerate(intents):
        by_intent.setdefault(intent, []).append(i)
    events = []
    for hour in range((1 + args.weeks) * 7 * 24):
        at = START + timedelta(hours=hour)
        for _ in range(int(rng.poisson(profile[(at.weekday(), at.hour)]))):
            events.append((at + timedelta(seconds=float(rng.uniform(0, 3600))), int(rng.integers(len(intents))), -1))
    bursts = []
    for b in range(args.bursts_per_week * args.weeks):
        begin = START + timedelta(weeks=1, seconds=float(rng.uniform(0, args.weeks * 7 * 86400 - 7200)))
        size, minutes = int(rng.integers(5, 31)), float(rng.uniform(20, 120))
        intent = list(by_intent)[int(rng.integers(len(by_intent)))]
        bursts.append(size)
        for at in sorted(rng.uniform(0, minutes * 60, size)):
            events.append((begin + timedelta(seconds=float(at)), int(rng.choice(by_intent[intent])), b))
    return sorted(events), bursts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--bursts-per-week", type=int, default=10)
    parser.add_argument("--pool", type=int, default=3000)
    parser.add_argument("--similarity", type=float, default=SurgePolicy().similarity)
    parser.add_argument("--min-size", type=int, default=SurgePolicy().min_size)
    parser.add_argument("--ratio", type=float, default=SurgePolicy().ratio)
    parser.add_argument("--min-expected", type=float, default=SurgePolicy().min_expected)
    parser.add_argument("--labelled", action="store_true", help="give the detector each message's intent")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    texts, intents = _pool(args.pool, rng)
    started = time.perf_counter()
    vectors = local_embedder().embed(texts)
    print(f"embedded {len(texts)} BANKING77 messages in {time.perf_counter() - started:.0f}s")
    events, bursts = _stream(args, intents, rng)
    policy = SurgePolicy(similarity=args.similarity, min_size=args.min_size, ratio=args.ratio,
                         min_expected=args.min_expected)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        history = History(Path(tmp) / "history.sqlite3")
        detector = SurgeDetector(IncidentBook(history), policy)
        seen_incidents: set[str] = set()
        arrived: Counter[int] = Counter()
        delay: dict[int, int] = {}
        false_alarms = 0
        started = time.perf_counter()
        for n, (at, index, burst) in enumerate(events):
            if burst >= 0:
                arrived[burst] += 1
            obs = Observation(tenant="bank", ticket_id=f"m{n}", at=at, vector=vectors[index].tolist(),
                              text=texts[index], category=intents[index] if args.labelled else None)  # fmt: skip
            incident = detector.observe(obs)
            if incident is None:
                continue
            opened = incident.id not in seen_incidents
            seen_incidents.add(incident.id)
            if burst >= 0 and burst not in delay:
                delay[burst] = arrived[burst]
            if opened and burst < 0 and at >= START + timedelta(weeks=1):
                members = {m.ticket_id for m in incident.members}
                if not any(events[int(t[1:])][2] >= 0 for t in members):
                    false_alarms += 1
        took = time.perf_counter() - started
        history.close()
    _report(args, events, bursts, delay, false_alarms, took, len(seen_incidents))


def _report(args, events, bursts, delay, false_alarms, took, incidents) -> None:  # type: ignore[no-untyped-def]
    print(f"{len(events)} messages over {1 + args.weeks} simulated weeks (1 warm-up), {len(bursts)} bursts; "
          f"policy similarity={args.similarity} min_size={args.min_size} ratio={args.ratio} "
          f"min_expected={args.min_expected} "
          f"labelled={args.labelled}; {len(events) / took:.0f} messages/s through the detector (SQLite)")  # fmt: skip
    for label, low, high in (("5-7", 5, 7), ("8+", 8, 30)):
        ids = [b for b, size in enumerate(bursts) if low <= size <= high]
        found = [delay[b] for b in ids if b in delay]
        pct = f"{len(found) / len(ids):.0%}" if ids else "n/a"
        spread = f"median {np.median(found):.0f}, p90 {np.percentile(found, 90):.0f}" if found else "n/a"
        print(f"bursts of {label:<3}: recall {len(found)}/{len(ids)} = {pct}; delay (burst messages seen) {spread}")
    print(f"false alarms: {false_alarms} in {args.weeks} weeks = {false_alarms / args.weeks:.2f} per week; "
          f"{incidents} incidents opened or joined in all")  # fmt: skip


if __name__ == "__main__":
    main()

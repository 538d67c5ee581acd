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
  the policy's attach window (from its last member: ordinary traffic of its kind keeps it open); a burst
  whose first match joins an already open incident counts as seen, and how many bursts were first seen
  through an incident opened before them is printed, since that makes the delay look shorter;
- a proposal whose opening group holds no burst message is a false alarm.
Prints recall for bursts of 5–7 and of 8+ messages, detection delay (burst messages arrived when the
proposal opened: median, 90th percentile), false alarms per simulated week, and throughput; then the
Hive duplicates check (benchmarks/surge_hive.py; `--hive off` skips it, `--hive only` runs only it).

    .venv/bin/python benchmarks/surge_replay.py [--embedder minilm --similarity 0.5 --min-size 5 --p-value 1e-5
                                                --min-expected 0.25 --weeks 4 --pool 3000 --seed 7 --hive on]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.surge_sim import START, Event, Replay, background, replay
from config.settings import EMBEDDER_THRESHOLDS
from insights.surge import SurgePolicy
from knowledge.embeddings import EMBEDDER_MODEL_IDS, embedder_named

BANKING = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "banking77" / "train.csv"


def _pool(size: int, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    if not BANKING.exists():
        raise SystemExit(f"skipped: {BANKING} is absent (BANKING77 lives in ../shared/data)")
    with BANKING.open(encoding="utf-8") as f:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(f)]
    picked = rng.choice(len(rows), size=min(size, len(rows)), replace=False)
    return [rows[i][0] for i in picked], [rows[i][1] for i in picked]


def _stream(args: argparse.Namespace, intents: list[str], rng: np.random.Generator) -> tuple[list[Event], list[int]]:
    """(time, pool index, burst id or -1) sorted by time, and each burst's size."""
    by_intent: dict[str, list[int]] = {}
    for i, intent in enumerate(intents):
        by_intent.setdefault(intent, []).append(i)
    events = background(1 + args.weeks, len(intents), rng)
    bursts = []
    for b in range(args.bursts_per_week * args.weeks):
        begin = START + timedelta(weeks=1, seconds=float(rng.uniform(0, args.weeks * 7 * 86400 - 7200)))
        size, minutes = int(rng.integers(5, 31)), float(rng.uniform(20, 120))
        intent = list(by_intent)[int(rng.integers(len(by_intent)))]
        bursts.append(size)
        for at in sorted(rng.uniform(0, minutes * 60, size)):
            events.append((begin + timedelta(seconds=float(at)), int(rng.choice(by_intent[intent])), b))
    return sorted(events), bursts


def policy_from(args: argparse.Namespace) -> SurgePolicy:
    return SurgePolicy(similarity=args.similarity, min_size=args.min_size, p_value=args.p_value,
                       min_expected=args.min_expected)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--bursts-per-week", type=int, default=10)
    parser.add_argument("--pool", type=int, default=3000)
    parser.add_argument("--embedder", choices=sorted(EMBEDDER_MODEL_IDS), default="minilm")
    parser.add_argument("--similarity", type=float, help="default: the embedder's (config.settings)")
    parser.add_argument("--min-size", type=int, default=SurgePolicy().min_size)
    parser.add_argument("--p-value", type=float, default=SurgePolicy().p_value)
    parser.add_argument("--min-expected", type=float, default=SurgePolicy().min_expected)
    parser.add_argument("--labelled", action="store_true", help="give the detector each message's intent")
    parser.add_argument("--hive", choices=("on", "off", "only"), default="on", help="the Hive duplicates check")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.similarity is None:
        args.similarity = EMBEDDER_THRESHOLDS[args.embedder].surge_similarity
    embedder = embedder_named(args.embedder)
    if args.hive != "only":
        _banking(args, embedder)
    if args.hive != "off":
        from benchmarks.surge_hive import hive_check

        hive_check(args, policy_from(args), embedder)


def _banking(args: argparse.Namespace, embedder: object) -> None:
    rng = np.random.default_rng(args.seed)
    texts, intents = _pool(args.pool, rng)
    started = time.perf_counter()
    vectors = embedder.embed(texts)  # type: ignore[attr-defined]
    print(f"embedded {len(texts)} BANKING77 messages with {args.embedder} in {time.perf_counter() - started:.0f}s")
    events, bursts = _stream(args, intents, rng)
    run = replay(events, vectors, texts, policy_from(args), (lambda i: intents[i]) if args.labelled else lambda _: None)
    _report(args, events, bursts, run)


def _report(args: argparse.Namespace, events: list[Event], bursts: list[int], run: Replay) -> None:
    arrived: Counter[int] = Counter()
    delay: dict[int, int] = {}
    earlier = 0  # bursts first seen by joining an incident opened before the burst began
    opened: dict[str, int] = {}
    begins = {b: n for n, (_, _, b) in reversed(list(enumerate(events))) if b >= 0}
    false_alarms = 0
    hits = dict(run.hits)
    for n, (at, _, burst) in enumerate(events):
        if burst >= 0:
            arrived[burst] += 1
        if (incident := hits.get(n)) is None:
            continue
        first = incident.id not in opened
        opened.setdefault(incident.id, n)
        if burst >= 0 and burst not in delay:
            delay[burst] = arrived[burst]
            earlier += int(opened[incident.id] < begins[burst])
        scored = first and burst < 0 and at >= START + timedelta(weeks=1)
        if scored and not any(events[int(m.ticket_id[1:])][2] >= 0 for m in incident.members):
            false_alarms += 1
    print(f"{len(events)} messages over {1 + args.weeks} simulated weeks (1 warm-up), {len(bursts)} bursts; "
          f"policy similarity={args.similarity} min_size={args.min_size} p_value={args.p_value:g} "
          f"min_expected={args.min_expected} labelled={args.labelled}; "
          f"{len(events) / run.seconds:.0f} messages/s through the detector (SQLite)")  # fmt: skip
    for label, low, high in (("5-7", 5, 7), ("8+", 8, 30)):
        ids = [b for b, size in enumerate(bursts) if low <= size <= high]
        found = [delay[b] for b in ids if b in delay]
        pct = f"{len(found) / len(ids):.0%}" if ids else "n/a"
        spread = f"median {np.median(found):.0f}, p90 {np.percentile(found, 90):.0f}" if found else "n/a"
        print(f"bursts of {label:<3}: recall {len(found)}/{len(ids)} = {pct}; delay (burst messages seen) {spread}")
    print(f"false alarms: {false_alarms} in {args.weeks} weeks = {false_alarms / args.weeks:.2f} per week; "
          f"{len(opened)} incidents opened or joined in all; {earlier} bursts first joined an incident opened "
          "before them (counted as seen, delay included)")  # fmt: skip


if __name__ == "__main__":
    main()

"""What the surge benchmarks share: the UCI incident log's arrival profile, a Poisson background stream on
it, and one pass of the real detector (insights/surge.py over a SQLite IncidentBook) over a stream."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from benchmarks.uci_incidents import DENSE_END, DENSE_START, opened_times
from insights.surge import SurgeDetector, SurgePolicy
from knowledge.history import History
from knowledge.incidents import Incident, IncidentBook, Observation

START = DENSE_START + timedelta(days=91)  # a Monday after the profile's period; the dates are simulated
#: (time, pool index, group id or -1 for background), sorted by time.
Event = tuple[datetime, int, int]


def hourly_profile() -> dict[tuple[int, int], float]:
    """Mean arrivals per weekday and hour of the UCI incident log's dense period (~265 a day)."""
    times = opened_times()
    weeks = (DENSE_END - DENSE_START).days / 7
    counts = Counter((t.weekday(), t.hour) for t in times)
    return {(d, h): counts[(d, h)] / weeks for d in range(7) for h in range(24)}


def background(weeks: int, pool_size: int, rng: np.random.Generator, scale: float = 1.0) -> list[Event]:
    """Poisson arrivals on the profile (× scale) for `weeks` weeks from START, each a random pool message."""
    profile = hourly_profile()
    events = []
    for hour in range(weeks * 7 * 24):
        at = START + timedelta(hours=hour)
        for _ in range(int(rng.poisson(profile[(at.weekday(), at.hour)] * scale))):
            events.append((at + timedelta(seconds=float(rng.uniform(0, 3600))), int(rng.integers(pool_size)), -1))
    return events


@dataclass
class Replay:
    #: For each event that opened or joined an incident: its position and the incident.
    hits: list[tuple[int, Incident]]
    seconds: float


def replay(events: list[Event], vectors: np.ndarray, texts: list[str], policy: SurgePolicy,
           category: Callable[[int], str | None] = lambda _: None) -> Replay:  # fmt: skip
    """Feed every event to a fresh detector on a temporary SQLite store, in time order."""
    with tempfile.TemporaryDirectory() as tmp:
        history = History(Path(tmp) / "history.sqlite3")
        detector = SurgeDetector(IncidentBook(history), policy)
        hits = []
        started = time.perf_counter()
        for n, (at, index, _) in enumerate(events):
            obs = Observation(tenant="t", ticket_id=f"m{n}", at=at, vector=vectors[index].tolist(),
                              text=texts[index], category=category(index))  # fmt: skip
            if (incident := detector.observe(obs)) is not None:
                hits.append((n, incident))
        took = time.perf_counter() - started
        history.close()
    return Replay(hits=hits, seconds=took)

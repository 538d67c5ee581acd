"""What a surge detector measures a ticket against, per tenant: the arrival profile per weekday and hour and
a reference sample of vectors, both from the stored observations *before* the sliding window (so a burst in
progress never raises its own expected count).

It is a cache of the shared store, never the truth: built from the database on a process's first ticket of
a tenant, then advanced on each ticket by what crossed the window's edge since (read in the same locked
transaction as the window itself), and rebuilt when the process has been away longer than `REBUILD_GAP`.
Every process builds the same figures from the same rows, so which worker takes a ticket does not matter,
and a restarted worker loses nothing.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from knowledge.db import Tx
from knowledge.incidents import IncidentBook, Observation

#: How far back the profile and the reference sample are read when (re)built.
LOOKBACK = timedelta(weeks=8)
#: A process that saw no ticket of the tenant for this long rebuilds instead of catching up.
REBUILD_GAP = timedelta(hours=24)
#: Arrival times read for the profile (a busy tenant's 8 weeks are sampled by their newest).
PROFILE_LIMIT = 50_000


def unit(vector: list[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v


@dataclass
class TenantHistory:
    reference_size: int
    reference: deque[np.ndarray] = field(default_factory=deque)
    reference_categories: deque[str | None] = field(default_factory=deque)
    profile: Counter[tuple[int, int]] = field(default_factory=Counter)
    first_at: datetime | None = None
    #: Every stored observation before this is counted (the window's edge at the last update).
    until: datetime | None = None

    def count(self, at: datetime) -> None:
        self.profile[(at.weekday(), at.hour)] += 1
        self.first_at = min(self.first_at or at, at)

    def add(self, obs: Observation) -> None:
        self.count(obs.at)
        self.reference.append(unit(obs.vector))
        self.reference_categories.append(obs.category)
        if len(self.reference) > self.reference_size:
            self.reference.popleft()
            self.reference_categories.popleft()

    def rate_per_hour(self, at: datetime) -> float:
        """Arrivals per hour at this weekday and hour; the overall hourly mean before a full week is seen."""
        if self.first_at is None or self.until is None:
            return 0.0
        hours = max((self.until - self.first_at).total_seconds() / 3600, 1.0)
        if hours < 24 * 7:
            return sum(self.profile.values()) / hours
        return self.profile[(at.weekday(), at.hour)] / (hours / (24 * 7))


def build(conn: Tx, tenant: str, edge: datetime, reference_size: int) -> TenantHistory:
    """The tenant's history before `edge`, read from the store."""
    history = TenantHistory(reference_size=reference_size)
    for at in IncidentBook.arrival_times(conn, tenant, edge - LOOKBACK, edge, PROFILE_LIMIT):
        history.count(at)
    for obs in IncidentBook.recent(conn, tenant, edge - LOOKBACK, edge, reference_size):
        history.reference.append(unit(obs.vector))
        history.reference_categories.append(obs.category)
    history.until = edge
    return history


def advance(history: TenantHistory, rows: list[Observation], edge: datetime) -> None:
    """Count the rows that crossed the window's edge since the last update (`rows` start at or before
    `history.until`, oldest first)."""
    assert history.until is not None
    for obs in rows:
        if history.until <= obs.at < edge:
            history.add(obs)
    history.until = max(history.until, edge)

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

from collections import Counter
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
#: A slot's rate is trusted once this many clock hours of it were seen (else the overall hourly mean).
MIN_SLOT_HOURS = 6
_HOUR = timedelta(hours=1)


def slot(at: datetime) -> tuple[bool, int]:
    """The profile's cell: weekend or not, and the hour of day."""
    return at.weekday() >= 5, at.hour


def unit(vector: list[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v


@dataclass
class TenantHistory:
    reference_size: int
    #: The reference sample: a ring of unit vectors (rows) and their categories, `filled` of them in use.
    reference: np.ndarray | None = None
    reference_categories: list[str | None] = field(default_factory=list)
    filled: int = 0
    cursor: int = 0
    #: Arrivals per slot, and the clock hours of each slot seen since the first arrival (the exposure).
    profile: Counter[tuple[bool, int]] = field(default_factory=Counter)
    exposure: Counter[tuple[bool, int]] = field(default_factory=Counter)
    first_at: datetime | None = None
    #: Every stored observation before this is counted (the window's edge at the last update).
    until: datetime | None = None
    #: Exposure is counted for the whole clock hours before this.
    clock: datetime | None = None

    def count(self, at: datetime) -> None:
        self.profile[slot(at)] += 1
        self.first_at = min(self.first_at or at, at)

    def tick(self, edge: datetime) -> None:
        """Count the clock hours that ended by `edge` (from the first arrival's hour on)."""
        if self.first_at is None:
            return
        if self.clock is None:
            self.clock = self.first_at.replace(minute=0, second=0, microsecond=0)
        while self.clock + _HOUR <= edge:
            self.exposure[slot(self.clock)] += 1
            self.clock += _HOUR

    def add(self, obs: Observation) -> None:
        self.count(obs.at)
        self.remember(obs)

    def remember(self, obs: Observation) -> None:
        """Into the reference ring, over its oldest entry once full (a new embedder's width starts it over)."""
        vector = unit(obs.vector)
        if self.reference is None or self.reference.shape[1] != len(vector):
            self.reference = np.zeros((self.reference_size, len(vector)), dtype=np.float32)
            self.reference_categories = [None] * self.reference_size
            self.filled = self.cursor = 0
        self.reference[self.cursor] = vector
        self.reference_categories[self.cursor] = obs.category
        self.cursor = (self.cursor + 1) % self.reference_size
        self.filled = min(self.filled + 1, self.reference_size)

    def sample(self) -> tuple[np.ndarray, list[str | None]]:
        """The reference vectors (rows, any order) and their categories."""
        if self.reference is None:
            return np.zeros((0, 0), dtype=np.float32), []
        return self.reference[: self.filled], self.reference_categories[: self.filled]

    def rate_per_hour(self, at: datetime) -> float:
        """Arrivals per hour expected at `at`: the mean over the same day type (weekday or weekend) and the
        hours either side of it, pooled so a week or two of history gives a steady figure (one weekday-hour
        cell of one week is a single Poisson draw); the overall hourly mean until that is seen enough."""
        cells = [(slot(at)[0], (at.hour + k) % 24) for k in (-1, 0, 1)]
        hours = sum(self.exposure[c] for c in cells)
        if hours >= MIN_SLOT_HOURS:
            return sum(self.profile[c] for c in cells) / hours
        total = sum(self.exposure.values())
        return sum(self.profile.values()) / total if total else 0.0


def build(book: IncidentBook, conn: Tx, tenant: str, edge: datetime, reference_size: int) -> TenantHistory:
    """The tenant's history before `edge`, read from the store."""
    history = TenantHistory(reference_size=reference_size)
    for at in book.arrival_times(conn, tenant, edge - LOOKBACK, edge, PROFILE_LIMIT):
        history.count(at)
    for obs in book.recent(conn, tenant, edge - LOOKBACK, edge, reference_size):
        history.remember(obs)
    history.until = edge
    history.tick(edge)
    return history


def advance(history: TenantHistory, rows: list[Observation], edge: datetime) -> None:
    """Count the rows that crossed the window's edge since the last update (`rows` start at or before
    `history.until`, oldest first)."""
    assert history.until is not None
    for obs in rows:
        if history.until <= obs.at < edge:
            history.add(obs)
    history.until = max(history.until, edge)
    history.tick(history.until)

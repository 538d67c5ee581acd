"""Emerging incidents: a burst of similar tickets arriving faster than history says tickets of that kind do.

Fed one triaged ticket at a time (`SurgeDetector.observe`), by any number of worker processes on one store.
Each ticket is decided in one transaction holding the tenant's lock (knowledge/incidents.py `locked`):
the ticket is stored, then the sliding window (default 2 h) is read back from the store, so it holds every
worker's tickets and survives a restart (at most `window_limit` rows are read). What the window is measured
against, the arrival rate at that hour (weekday or weekend, the hour either side pooled) and a reference
sample of the newest `reference_size` observations, comes from the stored tickets *before* the window
(insights/surge_history.py).
A ticket first joins an open (or accepted) incident whose centroid it matches (cosine ≥ `similarity`, same
category where both are labelled). Otherwise its group is itself plus the window's matches; the count
expected for that kind of ticket is share × rate × window hours, the share being the
fraction of the reference sample that matches it (add-one smoothed). A group of at least `min_size` whose
size a Poisson count with that mean reaches with probability ≤ `p_value` opens an incident proposal,
unless a dismissed incident of that cluster still suppresses it. Labels are the group's top terms (the
detector calls no LLM). Two workers deciding at the same instant queue on the lock, so the second one
attaches to the incident the first opened.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
from pydantic import BaseModel, Field
from scipy.stats import poisson

from insights.surge_history import REBUILD_GAP, TenantHistory, advance, build, unit
from knowledge.db import Tx
from knowledge.incidents import Incident, IncidentBook, Observation, new_incident_id

_WORD = re.compile(r"[a-zA-Z][a-zA-Z']{2,}")
_STOP_WORDS = (
    "the and for you your with that this have has not are was but can how what when why where which from "
    "there their they them been will would could should just get got any all our out into about please "
    "thank thanks hello dear don't i'm it's its can't still also one yet did does"
)
_STOP = frozenset(_STOP_WORDS.split())
#: The window read includes the ticket's own instant.
_TICK = timedelta(microseconds=1)


class SurgePolicy(BaseModel):
    window_minutes: int = Field(default=120, ge=5, le=24 * 60)
    #: MiniLM's; config.settings gives each embedder its own (EMBEDDER_THRESHOLDS).
    similarity: float = Field(default=0.5, gt=0, lt=1)
    min_size: int = Field(default=5, ge=2)
    #: A group opens a proposal when a Poisson count with the expected mean reaches its size this rarely.
    p_value: float = Field(default=1e-5, gt=0, lt=1)
    reference_size: int = Field(default=3000, ge=50)
    #: A dismissed incident's cluster opens no new proposal for this long.
    suppress_hours: float = Field(default=24.0, ge=0)
    #: Incidents take new members while their last one is at most this old.
    attach_hours: float = Field(default=24.0, gt=0)
    #: The expected count never goes below this (a kind never seen before is not infinitely surprising).
    min_expected: float = Field(default=0.25, gt=0)
    high_value_mrr: float = Field(default=2000, ge=0)
    #: At most this many stored observations are read per ticket (the window, and what left it since).
    window_limit: int = Field(default=2000, ge=50)


def _same_kind(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def top_terms(texts: list[str], n: int = 4) -> str:
    words = Counter(w.lower() for t in texts for w in set(_WORD.findall(t)) if w.lower() not in _STOP)
    return " ".join(w for w, _ in words.most_common(n)) or "similar tickets"


def severity(size: int, mrr: float, high_value_mrr: float) -> str:
    if size >= 20 or (high_value_mrr and mrr >= high_value_mrr * 3):
        return "P1"
    if size >= 10 or (high_value_mrr and mrr >= high_value_mrr):
        return "P2"
    return "P3"


class SurgeDetector:
    def __init__(self, book: IncidentBook, policy: SurgePolicy | None = None) -> None:
        self.book = book
        self.policy = policy or SurgePolicy()
        self._histories: dict[str, TenantHistory] = {}
        #: Per tenant, the window's observations by ticket id with their unit vectors (not parsed twice).
        self._known: dict[str, dict[str, tuple[Observation, np.ndarray]]] = {}

    # --- the step ----------------------------------------------------------------------------------------
    def observe(self, obs: Observation) -> Incident | None:
        """Record the ticket; returns the incident it opened or joined, else None. The whole decision runs in
        one transaction holding the tenant's lock, over the window as stored (every worker's tickets)."""
        at = obs.at if obs.at.tzinfo else obs.at.replace(tzinfo=UTC)
        obs = obs.model_copy(update={"at": at})
        vector = unit(obs.vector)
        with self.book.locked(obs.tenant) as conn:
            self.book.insert_observation(conn, obs)
            window, history = self._window(conn, obs)
            incident_id = self._attach(conn, obs, vector) or self._propose(conn, obs, vector, window, history)
        return self.book.get(obs.tenant, incident_id) if incident_id else None

    def _window(self, conn: Tx, obs: Observation) -> tuple[list[tuple[Observation, np.ndarray]], TenantHistory]:
        """The stored observations of the window before this one (with unit vectors), and the history before
        the window, brought up to date."""
        edge = obs.at - timedelta(minutes=self.policy.window_minutes)
        history = self._histories.get(obs.tenant)
        if history is None or history.until is None or abs(edge - history.until) > REBUILD_GAP:
            history = self._histories[obs.tenant] = build(self.book, conn, obs.tenant, edge, self.policy.reference_size)
            self._known[obs.tenant] = {}
        assert history.until is not None
        known = self._known[obs.tenant]
        rows = self.book.recent(conn, obs.tenant, min(history.until, edge), obs.at + _TICK, self.policy.window_limit,
                                {k: o for k, (o, _) in known.items()})  # fmt: skip
        advance(history, rows, edge)
        window = {o.ticket_id: (o, known[o.ticket_id][1] if o.ticket_id in known else unit(o.vector))
                  for o in rows if o.at >= edge}  # fmt: skip
        self._known[obs.tenant] = window
        return [pair for key, pair in window.items() if key != obs.ticket_id], history

    def expected(self, history: TenantHistory, vector: np.ndarray, category: str | None, at: datetime) -> float:
        """Tickets of this kind the window should hold: their share of the reference sample (add-one smoothed)
        × the arrival rate at this weekday and hour × the window's hours, floored at `min_expected`."""
        share = 1.0
        vectors, categories = history.sample()
        if len(vectors):
            near = vectors @ vector >= self.policy.similarity
            if category is not None:
                near &= np.array([_same_kind(c, category) for c in categories])
            share = (float(np.sum(near)) + 1) / (len(vectors) + 1)
        window_h = self.policy.window_minutes / 60
        return max(share * history.rate_per_hour(at) * window_h, self.policy.min_expected)

    def surprising(self, size: int, expected: float) -> bool:
        """At least `min_size`, and P(X >= size) <= `p_value` for X ~ Poisson(expected): a one-sided tail test
        rather than a flat ratio, so the bar grows with the expected count as its noise does (a kind expected
        3 times in the window needs 14 here, where 8x asked for 24; one expected 0.25 needs 5)."""
        return size >= self.policy.min_size and float(poisson.sf(size - 1, expected)) <= self.policy.p_value

    def _propose(self, conn: Tx, obs: Observation, vector: np.ndarray, window: list[tuple[Observation, np.ndarray]],
                 history: TenantHistory) -> str | None:  # fmt: skip
        group = [o for o, v in window if _same_kind(o.category, obs.category) and float(v @ vector) >= (
            self.policy.similarity)] + [obs]  # fmt: skip
        expected = self.expected(history, vector, obs.category, obs.at)
        if not self.surprising(len(group), expected):
            return None
        centroid = unit(np.mean([unit(o.vector) for o in group], axis=0))
        if self._suppressed(conn, obs.tenant, centroid, obs.category, obs.at):
            return None
        return self._open(conn, obs.tenant, group, centroid, expected, obs.at)

    def _attach(self, conn: Tx, obs: Observation, vector: np.ndarray) -> str | None:
        since = obs.at - timedelta(hours=self.policy.attach_hours)
        for incident in self.book.clusters_in(conn, obs.tenant, ("open", "accepted")):
            if incident.updated_at < since or not _same_kind(incident.category, obs.category):
                continue
            if float(incident.centroid @ vector) >= self.policy.similarity:
                self.book.attach_in(conn, obs.tenant, incident.id, obs)
                return incident.id
        return None

    def _suppressed(self, conn: Tx, tenant: str, centroid: np.ndarray, category: str | None, at: datetime) -> bool:
        for incident in self.book.clusters_in(conn, tenant, ("dismissed",)):
            if incident.suppress_until is None or incident.suppress_until < at:
                continue
            if _same_kind(incident.category, category) and float(incident.centroid @ centroid) >= (
                self.policy.similarity
            ):
                return True
        return False

    def _open(self, conn: Tx, tenant: str, group: list[Observation], centroid: np.ndarray, expected: float,
              at: datetime) -> str:  # fmt: skip
        categories = {o.category for o in group if o.category}
        mrr = sum({o.customer_id: o.mrr or 0.0 for o in group if o.customer_id}.values())
        incident = Incident(
            id=new_incident_id(), tenant=tenant, state="open", label=top_terms([o.text for o in group]),
            category=categories.pop() if len(categories) == 1 else None, centroid=centroid.tolist(),
            expected=round(expected, 3), severity=severity(len(group), mrr, self.policy.high_value_mrr),
            first_seen=min(o.at for o in group), opened_at=at, updated_at=at,
        )  # fmt: skip
        self.book.insert_incident(conn, incident, group)
        return incident.id

    def dismiss(self, tenant: str, incident_id: str, by: str | None, at: datetime) -> Incident:
        until = at + timedelta(hours=self.policy.suppress_hours)
        return self.book.decide(tenant, incident_id, "dismissed", by, at, until)

    def accept(self, tenant: str, incident_id: str, by: str | None, at: datetime) -> Incident:
        return self.book.decide(tenant, incident_id, "accepted", by, at)

"""Emerging incidents: a burst of similar tickets arriving faster than history says tickets of that kind do.

Fed one triaged ticket at a time (`SurgeDetector.observe`). For the ticket's tenant it keeps, rebuilt from
the database on first use so any process can take over:
- the sliding window (default 2 h) of recent observations;
- a reference sample (the newest `reference_size` observations before the window) and the tenant's arrival
  profile per weekday and hour.
A ticket first joins an open (or accepted) incident whose centroid it matches (cosine ≥ `similarity`, same
category where both are labelled). Otherwise its group is itself plus the window's matches; the count
expected for that kind of ticket is share × rate(weekday, hour) × window hours, the share being the
fraction of the reference sample that matches it (add-one smoothed). A group of at least `min_size` and
`ratio` × expected opens an incident proposal, unless a dismissed incident of that cluster still
suppresses it. Labels are the group's top terms (the detector calls no LLM).
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from pydantic import BaseModel, Field

from knowledge.incidents import Incident, IncidentBook, Observation, new_incident_id

_WORD = re.compile(r"[a-zA-Z][a-zA-Z']{2,}")
_STOP_WORDS = (
    "the and for you your with that this have has not are was but can how what when why where which from "
    "there their they them been will would could should just get got any all our out into about please "
    "thank thanks hello dear don't i'm it's its can't still also one yet did does"
)
_STOP = frozenset(_STOP_WORDS.split())


class SurgePolicy(BaseModel):
    window_minutes: int = Field(default=120, ge=5, le=24 * 60)
    similarity: float = Field(default=0.6, gt=0, lt=1)
    min_size: int = Field(default=5, ge=2)
    ratio: float = Field(default=8.0, gt=1)
    reference_size: int = Field(default=3000, ge=50)
    #: A dismissed incident's cluster opens no new proposal for this long.
    suppress_hours: float = Field(default=24.0, ge=0)
    #: Incidents take new members while their last one is at most this old.
    attach_hours: float = Field(default=24.0, gt=0)
    #: The expected count never goes below this (a kind never seen before is not infinitely surprising).
    min_expected: float = Field(default=0.5, gt=0)
    high_value_mrr: float = Field(default=2000, ge=0)


@dataclass
class _TenantState:
    window: deque[Observation] = field(default_factory=deque)
    reference: deque[np.ndarray] = field(default_factory=deque)
    reference_categories: deque[str | None] = field(default_factory=deque)
    profile: Counter[tuple[int, int]] = field(default_factory=Counter)
    first_at: datetime | None = None


def _unit(vector: list[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v


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
        self._tenants: dict[str, _TenantState] = {}

    # --- state -------------------------------------------------------------------------------------------
    def _state(self, tenant: str, now: datetime) -> _TenantState:
        state = self._tenants.get(tenant)
        if state is None:
            state = self._tenants[tenant] = _TenantState()
            for obs in self.book.observations(tenant, now - timedelta(weeks=8), now, limit=20_000):
                self._remember(state, obs)
        return state

    def _remember(self, state: _TenantState, obs: Observation) -> None:
        state.window.append(obs)
        state.profile[(obs.at.weekday(), obs.at.hour)] += 1
        state.first_at = min(state.first_at or obs.at, obs.at)
        horizon = obs.at - timedelta(minutes=self.policy.window_minutes)
        while state.window and state.window[0].at < horizon:
            old = state.window.popleft()
            state.reference.append(_unit(old.vector))
            state.reference_categories.append(old.category)
            if len(state.reference) > self.policy.reference_size:
                state.reference.popleft()
                state.reference_categories.popleft()

    def rate_per_hour(self, state: _TenantState, at: datetime) -> float:
        """Arrivals per hour at this weekday and hour; the overall hourly mean before a full week is seen."""
        if state.first_at is None:
            return 0.0
        hours = max((at - state.first_at).total_seconds() / 3600, 1.0)
        if hours < 24 * 7:
            return sum(state.profile.values()) / hours
        return state.profile[(at.weekday(), at.hour)] / (hours / (24 * 7))

    def expected(self, state: _TenantState, vector: np.ndarray, category: str | None, at: datetime) -> float:
        share = 1.0
        if state.reference:
            sims = np.stack(state.reference) @ vector
            kinds = np.array([_same_kind(c, category) for c in state.reference_categories])
            share = (float(np.sum((sims >= self.policy.similarity) & kinds)) + 1) / (len(sims) + 1)
        window_h = self.policy.window_minutes / 60
        return max(share * self.rate_per_hour(state, at) * window_h, self.policy.min_expected)

    # --- the step ----------------------------------------------------------------------------------------
    def observe(self, obs: Observation) -> Incident | None:
        """Record the ticket; returns the incident it opened or joined, else None."""
        at = obs.at if obs.at.tzinfo else obs.at.replace(tzinfo=UTC)
        obs = obs.model_copy(update={"at": at})
        state = self._state(obs.tenant, at)
        self.book.observe(obs)
        vector = _unit(obs.vector)
        joined = self._attach(obs, vector)
        group = [o for o in state.window if self._matches(o, vector, obs.category)]
        expected = self.expected(state, vector, obs.category, at)
        self._remember(state, obs)
        if joined is not None:
            return joined
        group.append(obs)
        if len(group) < self.policy.min_size or len(group) < self.policy.ratio * expected:
            return None
        centroid = _unit(np.mean([_unit(o.vector) for o in group], axis=0))
        if self._suppressed(obs.tenant, centroid, obs.category, at):
            return None
        return self._open(obs.tenant, group, centroid, expected, at)

    def _matches(self, other: Observation, vector: np.ndarray, category: str | None) -> bool:
        return _same_kind(other.category, category) and float(_unit(other.vector) @ vector) >= self.policy.similarity

    def _attach(self, obs: Observation, vector: np.ndarray) -> Incident | None:
        since = obs.at - timedelta(hours=self.policy.attach_hours)
        for incident in self.book.list(obs.tenant, ("open", "accepted"), limit=50, with_members=False):
            if incident.updated_at < since or not _same_kind(incident.category, obs.category):
                continue
            if float(_unit(incident.centroid) @ vector) >= self.policy.similarity:
                self.book.attach(obs.tenant, incident.id, obs)
                return self.book.get(obs.tenant, incident.id)
        return None

    def _suppressed(self, tenant: str, centroid: np.ndarray, category: str | None, at: datetime) -> bool:
        for incident in self.book.list(tenant, ("dismissed",), limit=50, with_members=False):
            if incident.suppress_until is None or incident.suppress_until < at:
                continue
            if _same_kind(incident.category, category) and float(_unit(incident.centroid) @ centroid) >= (
                self.policy.similarity
            ):
                return True
        return False

    def _open(self, tenant: str, group: list[Observation], centroid: np.ndarray, expected: float,
              at: datetime) -> Incident:  # fmt: skip
        categories = {o.category for o in group if o.category}
        mrr = sum({o.customer_id: o.mrr or 0.0 for o in group if o.customer_id}.values())
        incident = Incident(
            id=new_incident_id(), tenant=tenant, state="open", label=top_terms([o.text for o in group]),
            category=categories.pop() if len(categories) == 1 else None, centroid=centroid.tolist(),
            expected=round(expected, 3), severity=severity(len(group), mrr, self.policy.high_value_mrr),
            first_seen=min(o.at for o in group), opened_at=at, updated_at=at,
        )  # fmt: skip
        return self.book.open(incident, group)

    def dismiss(self, tenant: str, incident_id: str, by: str | None, at: datetime) -> Incident:
        until = at + timedelta(hours=self.policy.suppress_hours)
        return self.book.decide(tenant, incident_id, "dismissed", by, at, until)

    def accept(self, tenant: str, incident_id: str, by: str | None, at: datetime) -> Incident:
        return self.book.decide(tenant, incident_id, "accepted", by, at)

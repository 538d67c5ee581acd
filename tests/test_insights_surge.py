"""Emerging-incident detection over real stores (SQLite and Postgres): a burst opens one proposal, a steady
stream none; new matches attach; accept and dismiss (which suppresses); tenants never see each other's."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from insights.surge import SurgeDetector, SurgePolicy
from insights.surge_history import TenantHistory
from knowledge.history import History
from knowledge.incidents import IncidentBook, IncidentConflict, Observation
from tests.insights_data import EPOCH, hourly_rate

DIM = 64
TOPICS = np.random.default_rng(0).normal(size=(100, DIM))


def _ticket(rng: np.random.Generator, topic: int, tenant: str, n: int, at, prefix: str) -> Observation:
    vector = TOPICS[topic] + rng.normal(scale=0.35, size=DIM)
    return Observation(tenant=tenant, ticket_id=f"{prefix}{n}", at=at, vector=vector.tolist(),
                       text=f"topic{topic} login error", customer_id=f"c{n % 9}", mrr=100.0)  # fmt: skip


def _steady(tenant: str, days: int, per_hour: float, seed: int) -> list[Observation]:
    rng = np.random.default_rng(seed)
    out = []
    for hour in range(days * 24):
        at = EPOCH + timedelta(hours=hour)
        for i in range(int(rng.poisson(hourly_rate(at, per_hour)))):
            out.append(_ticket(rng, int(rng.integers(100)), tenant, len(out), at + timedelta(minutes=i), "s"))
    return out


def _burst(tenant: str, start, n: int, topic: int = 7, prefix: str = "b") -> list[Observation]:
    rng = np.random.default_rng(99)
    return [_ticket(rng, topic, tenant, i, start + timedelta(minutes=6 * i), prefix) for i in range(n)]


@pytest.fixture
def detector(tmp_path: Path, database_url: str | None) -> SurgeDetector:
    history = History(tmp_path / "history.sqlite3", database_url)
    yield SurgeDetector(IncidentBook(history), SurgePolicy(similarity=0.6))  # the test topics' noise suits 0.6
    history.close()


def _feed(detector: SurgeDetector, stream: list[Observation]) -> list[tuple[int, str]]:
    """(position in the stream, incident id) for each observation that opened or joined an incident."""
    return [(i, inc.id) for i, obs in enumerate(stream) if (inc := detector.observe(obs)) is not None]


def test_steady_stream_opens_nothing_and_a_burst_opens_one(detector: SurgeDetector) -> None:
    assert _feed(detector, _steady("a", 8, 6, seed=1)) == []
    start = EPOCH + timedelta(days=8, hours=10)
    burst = _burst("a", start, 10)
    hits = _feed(detector, burst)
    assert hits and hits[0][0] <= 4  # detected by the 5th burst ticket
    assert len({incident for _, incident in hits}) == 1
    [incident] = detector.book.list("a")
    assert incident.state == "open" and len(incident.members) == 10  # later matches attached
    summary = incident.summary()
    assert summary["members"] == 10 and summary["customers"] == 9 and summary["mrr"] == 900.0
    assert "login" in incident.label and incident.growth_per_hour > 0
    # Tenant isolation: another tenant sees nothing and can't decide on it.
    assert detector.book.list("b") == [] and detector.book.get("b", incident.id) is None
    with pytest.raises(KeyError):
        detector.accept("b", incident.id, "lead", start)


def test_accept_and_dismiss_which_suppresses(detector: SurgeDetector) -> None:
    _feed(detector, _steady("a", 8, 6, seed=2))
    start = EPOCH + timedelta(days=8, hours=10)
    _feed(detector, _burst("a", start, 8, topic=3))
    [first] = detector.book.list("a")
    dismissed = detector.dismiss("a", first.id, "lead", start + timedelta(hours=1))
    assert dismissed.state == "dismissed" and dismissed.suppress_until is not None
    with pytest.raises(IncidentConflict):
        detector.accept("a", first.id, "lead", start)
    # The same cluster again within the suppression: no new proposal.
    assert _feed(detector, _burst("a", start + timedelta(hours=4), 8, topic=3, prefix="again")) == []
    # Another cluster still opens, and can be accepted.
    hits = _feed(detector, _burst("a", start + timedelta(hours=5), 8, topic=50, prefix="other"))
    assert len({i for _, i in hits}) == 1
    accepted = detector.accept("a", hits[0][1], "lead", start + timedelta(hours=6))
    assert accepted.state == "accepted" and accepted.decided_by == "lead"


def test_a_new_process_rebuilds_the_window_from_the_database(detector: SurgeDetector) -> None:
    _feed(detector, _steady("a", 8, 6, seed=3))
    start = EPOCH + timedelta(days=8, hours=10)
    burst = _burst("a", start, 8, topic=11)
    _feed(detector, burst[:3])
    fresh = SurgeDetector(detector.book, detector.policy)  # another worker takes over mid-burst
    hits = _feed(fresh, burst[3:])
    assert hits and hits[0][0] <= 1


def test_the_bar_is_a_poisson_tail_above_min_size(detector: SurgeDetector) -> None:
    def tail(n: int, mean: float) -> float:  # P(X >= n) for X ~ Poisson(mean), by hand
        return 1 - sum(math.exp(-mean) * mean**k / math.factorial(k) for k in range(n))

    policy = detector.policy
    assert policy.p_value == 1e-5 and policy.min_size == 5
    assert tail(13, 3.0) > 1e-5 >= tail(14, 3.0)
    assert not detector.surprising(13, 3.0) and detector.surprising(14, 3.0)
    assert detector.surprising(5, 0.25)  # P(X >= 5) = 6.6e-6 for a kind expected a quarter time
    assert not detector.surprising(4, 0.01)  # under min_size however unlikely


def test_the_expected_rate_pools_the_day_type_and_neighbouring_hours() -> None:
    history = TenantHistory(reference_size=50)
    rng = np.random.default_rng(4)
    for hour in range(7 * 24):  # one week: 10 an hour on weekday working hours, 1 an hour otherwise
        at = EPOCH + timedelta(hours=hour)
        busy = at.weekday() < 5 and 8 <= at.hour < 18
        count = 0 if (at.weekday(), at.hour) == (2, 10) else int(rng.poisson(10 if busy else 1))
        for i in range(count):  # Wednesday 10:00 happened to be empty
            history.count(at + timedelta(minutes=60 * i / max(count, 1)))
    history.tick(EPOCH + timedelta(weeks=1))
    wednesday_ten = EPOCH + timedelta(weeks=1, days=2, hours=10)
    assert 7 < history.rate_per_hour(wednesday_ten) < 13  # not 0: its neighbours and the other weekdays carry it
    assert history.rate_per_hour(EPOCH + timedelta(weeks=1, days=5, hours=10)) < 2  # a Saturday


def test_the_surge_threshold_follows_the_embedder_unless_set() -> None:
    from config.settings import EMBEDDER_THRESHOLDS, Settings

    assert Settings(embedder="minilm").surge_similarity == EMBEDDER_THRESHOLDS["minilm"].surge_similarity == 0.5
    assert Settings(embedder="e5-small").surge_similarity == EMBEDDER_THRESHOLDS["e5-small"].surge_similarity
    assert Settings(embedder="e5-small", surge_similarity=0.9).surge_similarity == 0.9

"""The routing policy: nobody over capacity or off shift is suggested unless nobody else qualifies; escalations
go to the on-call team, VIPs to seniors; recency decides between equally skilled people; reasons are sentences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from knowledge.roster import Agent, WorkingHours
from knowledge.schemas import Ticket
from tools.routing.policy import RoutingFacts, RoutingPolicy, decide_routing
from tools.routing.profiles import build_profiles

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC
BILLING = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)
OUTAGE = np.array([0.0, 1.0, 0.0, 0.0], dtype=np.float32)
ALWAYS = None
NIGHTS = WorkingHours.parse("Mon-Sun 22:00-06:00", "UTC")


def _resolved(
    agent: str, n: int, days_ago: float, embedding: np.ndarray, tags: list[str]
) -> list[tuple[Ticket, np.ndarray]]:
    when = NOW - timedelta(days=days_ago)
    return [
        (
            Ticket(id=f"{agent}-{days_ago}-{i}", subject="s", body="b", created_at=when - timedelta(hours=5),
                   tags=tags, labels={"assignee": agent}, extra={"resolved_at": when.isoformat()}),
            embedding,
        )
        for i in range(n)
    ]  # fmt: skip


def _profiles(*groups: list[tuple[Ticket, np.ndarray]]):  # type: ignore[no-untyped-def]
    rows = [row for group in groups for row in group]
    return build_profiles("default", [t for t, _ in rows], np.vstack([e for _, e in rows]), half_life_days=90)


PROFILES = _profiles(
    _resolved("ann", 10, 5, BILLING, ["billing"]),  # the billing expert
    _resolved("bea", 8, 6, BILLING, ["billing"]),  # almost as good
    _resolved("cal", 6, 8, BILLING, ["billing"]),
    _resolved("dan", 10, 4, OUTAGE, ["outage"]),  # the outage expert
)


def _facts(**change: object) -> RoutingFacts:
    base: dict[str, object] = {"now": NOW, "embedding": BILLING.tolist(), "skills": {"tags": ["billing"]}}
    return RoutingFacts(**{**base, **change})  # type: ignore[arg-type]


def _agent(agent_id: str, **fields: object) -> Agent:
    return Agent(id=agent_id, name=agent_id.title(), **fields)  # type: ignore[arg-type]


def test_the_best_skilled_qualified_person_is_suggested_with_two_alternatives() -> None:
    roster = [_agent("ann", capacity=5), _agent("bea", capacity=5), _agent("cal", capacity=5), _agent("dan")]
    decision = decide_routing(roster, {"ann": 1}, PROFILES, _facts())
    assert [p.agent_id for p in decision.picks] == ["ann", "bea", "cal"]
    assert decision.picks[0].parts["skill_match"] == 1.0 and decision.picks[0].qualified
    assert decision.ranked[:3] == ["ann", "bea", "cal"] and decision.note is None
    assert decision.picks[0].reason.startswith("Ann: the best recent fit for tickets like this: resolved 10")
    assert "1/5 open" in decision.picks[0].reason


def test_over_capacity_and_off_shift_people_are_not_suggested_while_someone_qualifies() -> None:
    roster = [_agent("ann", capacity=3), _agent("bea", hours=NIGHTS), _agent("cal", capacity=5), _agent("dan")]
    decision = decide_routing(roster, {"ann": 3}, PROFILES, _facts())
    assert [p.agent_id for p in decision.picks] == ["cal", "dan"]
    assert all(p.qualified for p in decision.picks)
    assert decision.ranked == ["cal", "dan"] and decision.note is None


def test_when_nobody_qualifies_the_best_fits_are_suggested_and_the_note_says_so() -> None:
    roster = [_agent("ann", capacity=3), _agent("bea", hours=NIGHTS), _agent("cal", capacity=0)]
    decision = decide_routing(roster, {"ann": 4}, PROFILES, _facts())
    assert [p.agent_id for p in decision.picks] == ["ann", "bea", "cal"]
    assert not any(p.qualified for p in decision.picks)
    assert decision.note is not None and "Nobody who qualifies" in decision.note
    assert "over capacity (4/3 open)" in decision.picks[0].reason
    assert "off shift now" in decision.picks[1].reason
    assert decision.picks[0].reason.endswith("(suggested only because nobody else qualifies).")


def test_escalations_go_to_the_on_call_team_and_vips_to_seniors() -> None:
    roster = [_agent("ann"), _agent("bea", senior=True), _agent("cal"), _agent("dan", teams=["on-call"])]
    escalated = decide_routing(roster, {}, PROFILES, _facts(escalated=True))
    assert escalated.rule == "escalation_team" and escalated.team == "on-call"
    assert [p.agent_id for p in escalated.picks] == ["dan"]
    vip = decide_routing(roster, {}, PROFILES, _facts(high_value=True))
    assert vip.rule == "vip_senior" and [p.agent_id for p in vip.picks] == ["bea"]
    # A senior who cannot take it: the VIP goes to the best qualified person instead, and the note says why.
    busy = decide_routing(
        [*roster[:1], _agent("bea", senior=True, capacity=1)], {"bea": 1}, PROFILES, _facts(high_value=True)
    )
    assert busy.picks[0].agent_id == "ann" and busy.note and "senior" in busy.note


def test_recent_activity_beats_an_old_record_of_the_same_skill() -> None:
    profiles = _profiles(
        _resolved("old", 20, 400, BILLING, ["billing"]),  # an expert who has not resolved anything for a year
        _resolved("new", 6, 3, BILLING, ["billing"]),
    )
    decision = decide_routing([_agent("old"), _agent("new")], {}, profiles, _facts())
    assert [p.agent_id for p in decision.picks] == ["new", "old"]


def test_the_requester_is_never_suggested_and_declared_skills_stand_in_for_missing_history() -> None:
    roster = [_agent("ann"), _agent("newbie", skills=["billing"]), _agent("dan")]
    decision = decide_routing(roster, {}, PROFILES, _facts(requester=frozenset({"ANN"})))
    assert [p.agent_id for p in decision.picks] == ["newbie", "dan"]
    assert "declares billing" in decision.picks[0].reason
    kept = decide_routing(
        roster, {}, PROFILES, _facts(requester=frozenset({"ann"})), RoutingPolicy(exclude_requester=False)
    )
    assert kept.picks[0].agent_id == "ann"


def test_language_mismatch_lowers_the_score_but_unknown_languages_do_not() -> None:
    roster = [_agent("ann", languages=["en"]), _agent("bea", languages=["de", "en"]), _agent("cal")]
    decision = decide_routing(roster, {}, PROFILES, _facts(language="de"))
    parts = {p.agent_id: p.parts["language_match"] for p in decision.picks}
    assert parts == {"ann": False, "bea": True, "cal": None}
    assert "does not list de" in next(p.reason for p in decision.picks if p.agent_id == "ann")

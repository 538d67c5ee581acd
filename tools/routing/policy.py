"""The routing decision (deterministic): who, of a tenant's roster, should work this ticket, and why.

Policy, as data (`RoutingPolicy`, filled from settings):

1. The ticket's requester is never suggested (`exclude_requester`): a person who raised a ticket for
   someone else to work wants someone else.
2. The scope: escalations go to the on-call/specialist team (`escalation_team`) when anyone is in it;
   VIP / high-MRR accounts go to agents marked senior (`vip_to_senior`) when any is; otherwise the team
   named like the ticket's queue, when anyone works it; otherwise the whole roster.
3. Qualified = on shift now and below capacity. Nobody over capacity or off shift is suggested while
   anyone in scope qualifies; a VIP or queue scope with nobody qualified widens to the whole roster
   (an escalation stays with its team); with nobody qualified anywhere the best fits are suggested
   anyway and the note says so.
4. Within the chosen group, candidates rank by score = Σ weight × part (skill match, recent speed,
   room left, language match); the parts and a one-sentence reason travel with each candidate.

The result is plain data (`RoutingDecision`); the graph turns it into the TriageResult's `routing` block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from knowledge.roster import Agent
from tools.routing.profiles import TenantProfiles
from tools.routing.reasons import reason_for
from tools.routing.scoring import SkillWeights, history_fit, recent_speed, skill_match

RANKED = 10


class RoutingPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Score = Σ weight × part; parts are skill (0–1), speed (0–1), load (room left 0–1), language (0/1).
    weights: dict[str, float] = Field(
        default_factory=lambda: {"skill": 0.8, "speed": 0.05, "load": 0.1, "language": 0.05}
    )
    escalation_team: str | None = "on-call"
    vip_to_senior: bool = True
    exclude_requester: bool = True
    queue_teams: bool = True
    #: How the skill match weighs its evidence (see tools.routing.scoring).
    skill: SkillWeights = Field(default_factory=SkillWeights)


@dataclass(frozen=True)
class RoutingFacts:
    """What the graph knows about the ticket when it routes."""

    now: datetime
    embedding: Sequence[float] | None
    #: Skill-bearing values: predicted queue/category/type and the ticket's tags.
    skills: Mapping[str, Sequence[str]]
    #: The ticket's text as the embedder saw it (the text model reads it too).
    text: str | None = None
    queue: str | None = None
    language: str | None = None
    escalated: bool = False
    high_value: bool = False
    #: The requester's ids (customer id, e-mail): an agent matching one raised the ticket.
    requester: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Pick:
    agent_id: str
    name: str
    score: float
    parts: dict[str, object]
    qualified: bool
    reason: str


@dataclass(frozen=True)
class RoutingDecision:
    team: str | None
    picks: list[Pick]
    ranked: list[str]
    rule: str
    note: str | None
    candidates: int


def _is_requester(agent: Agent, requester: frozenset[str]) -> bool:
    ids = {agent.id, *(agent.helpdesk_ids.values()), *([agent.email] if agent.email else [])}
    return bool({i.lower() for i in ids} & {r.lower() for r in requester})


def _scope(agents: list[Agent], facts: RoutingFacts, policy: RoutingPolicy) -> tuple[str, str | None, list[Agent]]:
    """(rule, team, members) of the narrowest scope the policy asks for that has anyone in it."""
    if facts.escalated and policy.escalation_team:
        members = [a for a in agents if policy.escalation_team in a.teams]
        if members:
            return "escalation_team", policy.escalation_team, members
    if facts.high_value and policy.vip_to_senior:
        members = [a for a in agents if a.senior]
        if members:
            return "vip_senior", None, members
    if facts.queue and policy.queue_teams:
        members = [a for a in agents if facts.queue in a.teams]
        if members:
            return "team", facts.queue, members
    return "skill", None, agents


def _score(
    agent: Agent, fit: Mapping[str, float], load: Mapping[str, int], profiles: TenantProfiles | None,
    facts: RoutingFacts, policy: RoutingPolicy,
) -> Pick:  # fmt: skip
    profile = profiles.agents.get(agent.id) if profiles else None
    skill = skill_match(fit.get(agent.id, 0.0), profile.resolved if profile else 0, agent.skills, facts.skills)
    speed = recent_speed(profiles, agent.id)
    open_now = load.get(agent.id, 0)
    # A capacity of 0 means "takes no tickets now": always over.
    ratio = None if agent.capacity is None else (open_now / agent.capacity if agent.capacity else float("inf"))
    spoken = agent.languages or sorted((profile.languages if profile else {}).keys())
    language = None if not facts.language or facts.language == "und" or not spoken else facts.language in spoken
    on_shift = agent.on_shift(facts.now)
    parts: dict[str, object] = {
        "skill_match": round(skill, 4),
        "recent_speed": round(speed, 4),
        "open_tickets": open_now,
        "capacity": agent.capacity,
        "load": None if ratio is None else round(min(ratio, 99.0), 4),
        "on_shift": on_shift,
        "language_match": language,
    }
    w = policy.weights
    room = 0.5 if ratio is None else max(0.0, 1.0 - min(ratio, 1.0))
    score = (
        w.get("skill", 0) * skill
        + w.get("speed", 0) * speed
        + w.get("load", 0) * room
        + w.get("language", 0) * (0.5 if language is None else float(language))
    )
    qualified = on_shift and (agent.capacity is None or open_now < agent.capacity)
    return Pick(agent.id, agent.name, round(score, 4), parts, qualified, "")


def decide_routing(
    agents: Sequence[Agent],
    load: Mapping[str, int],
    profiles: TenantProfiles | None,
    facts: RoutingFacts,
    policy: RoutingPolicy = RoutingPolicy(),
) -> RoutingDecision:
    pool = [a for a in agents if a.active and not (policy.exclude_requester and _is_requester(a, facts.requester))]
    if not pool:
        return RoutingDecision(None, [], [], "skill", "Nobody on this tenant's roster can take the ticket.", 0)
    embedding = None if facts.embedding is None else list(facts.embedding)
    fit = history_fit(profiles, embedding, facts.skills, policy.skill, facts.text) if profiles else {}  # type: ignore[arg-type]
    scored = {a.id: _score(a, fit, load, profiles, facts, policy) for a in pool}
    rule, team, members = _scope(pool, facts, policy)
    group, note = [scored[a.id] for a in members], None
    if not any(p.qualified for p in group):
        widened = [p for p in scored.values() if p.qualified]
        if rule in ("vip_senior", "team") and widened:
            scope = "the senior group" if rule == "vip_senior" else f"team {team}"
            note = f"Nobody in {scope} is on shift with room for another ticket; routed across the roster."
            rule, team, group = "skill", None, widened
        else:
            note = "Nobody who qualifies is on shift with room for another ticket: these are the best fits anyway."
    else:
        group = [p for p in group if p.qualified]
    ranked = sorted(group, key=lambda p: (-p.score, p.agent_id))
    by_id = {a.id: a for a in pool}
    picks = [
        Pick(p.agent_id, p.name, p.score, p.parts, p.qualified, reason_for(by_id[p.agent_id], p, profiles, facts))
        for p in ranked[:3]
    ]
    if team is None and picks:
        first = by_id[picks[0].agent_id]
        team = first.teams[0] if first.teams else None
    return RoutingDecision(
        team=team,
        picks=picks,
        ranked=[p.agent_id for p in ranked[:RANKED]],
        rule=rule,
        note=note,
        candidates=len(group),
    )

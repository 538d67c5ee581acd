"""One sentence per routing candidate, built from the score's parts and the person's profile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from knowledge.roster import Agent
from tools.routing.profiles import AgentProfile, TenantProfiles

if TYPE_CHECKING:
    from tools.routing.policy import Pick, RoutingFacts


def _ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "at an unknown time"
    days = (now - then).days
    if days <= 0:
        return "today"
    if days < 60:
        return f"{days} day{'s' if days != 1 else ''} ago"
    return f"on {then:%Y-%m-%d}"


def _matching_skills(profile: AgentProfile | None, ticket_skills: Mapping[str, Sequence[str]]) -> list[str]:
    if profile is None:
        return []
    found = []
    for name, values in ticket_skills.items():
        held = profile.skills.get(name, {})
        found.extend(value for value in values if held.get(value, 0) > 0)
    return found[:2]


def _history(agent: Agent, skill: float, profile: AgentProfile | None, facts: RoutingFacts) -> str:
    if profile is None or profile.resolved == 0:
        declared = [s for s in agent.skills if s.lower() in {v.lower() for vs in facts.skills.values() for v in vs}]
        return (
            f"declares {', '.join(declared[:2])} (no resolution history yet)" if declared else "no resolution history"
        )
    fit = "the best recent fit for tickets like this" if skill >= 0.999 else f"a {skill:.0%} fit of the best"
    skills = _matching_skills(profile, facts.skills)
    also = f", including {', '.join(skills)}" if skills else ""
    return f"{fit}: resolved {profile.resolved}{also}, last {_ago(profile.last_resolved_at, facts.now)}"


def _load(parts: Mapping[str, Any]) -> str:
    open_now, capacity = parts["open_tickets"], parts["capacity"]
    if capacity is None:
        return f"{open_now} open"
    if open_now >= capacity:
        return f"over capacity ({open_now}/{capacity} open)"
    return f"{open_now}/{capacity} open"


def reason_for(agent: Agent, pick: Pick, profiles: TenantProfiles | None, facts: RoutingFacts) -> str:
    parts = pick.parts
    profile = profiles.agents.get(agent.id) if profiles else None
    bits = [_history(agent, float(parts["skill_match"]), profile, facts)]  # type: ignore[arg-type]
    speed = float(parts["recent_speed"])  # type: ignore[arg-type]
    if speed >= 0.6:
        bits.append("resolves faster than the team's median")
    elif speed <= 0.4:
        bits.append("slower than the team's median")
    bits.append(_load(parts))
    if not parts["on_shift"]:
        bits.append("off shift now")
    if parts["language_match"] is False:
        bits.append(f"does not list {facts.language}")
    sentence = f"{agent.name}: {bits[0]}; " + ", ".join(bits[1:]) + "."
    return sentence if pick.qualified else sentence[:-1] + " (suggested only because nobody else qualifies)."

"""A person's roster entry and skill profile in plain lines: what `caseworker agents show` prints and the
service's `GET /api/agents/{id}` returns as `explanation`."""

from __future__ import annotations

from knowledge.roster import Agent
from tools.routing.profiles import RECENT_RESOLUTIONS, AgentProfile, TenantProfiles

_TOP_SKILLS = 5


def roster_lines(agent: Agent | None, open_now: int) -> list[str]:
    """The roster entry in three lines (or why the person is not on it)."""
    if agent is None:
        return ["Not on the roster (known from resolution history only): routing cannot suggest them."]
    ids = ", ".join(f"{k} {v}" for k, v in agent.helpdesk_ids.items()) or "none"
    return [
        f"{agent.name} ({agent.id}){' <' + agent.email + '>' if agent.email else ''}"
        f"{'' if agent.active else ' — inactive'}{' — senior' if agent.senior else ''}",
        f"  teams: {', '.join(agent.teams) or '–'}; declared skills: {', '.join(agent.skills) or '–'}; "
        f"languages: {', '.join(agent.languages) or '–'}",
        f"  open tickets: {open_now} of {'no declared limit' if agent.capacity is None else agent.capacity}; "
        f"hours: {agent.hours.describe() if agent.hours else 'any time'}; helpdesk ids: {ids}",
    ]


def profile_lines(profile: AgentProfile | None, profiles: TenantProfiles | None) -> list[str]:
    """The skill profile learned from resolution history, explained in sentences."""
    if profiles is None:
        return ["No skill profiles for this tenant yet: run `caseworker train` after importing resolved history."]
    if profile is None:
        return ["No resolutions in the history: routing relies on declared skills and languages for this person."]
    share = profile.activity / max(float(profiles.activity.sum()), 1e-9)
    first, last = profile.first_resolved_at, profile.last_resolved_at
    span = f"{first:%Y-%m-%d} → {last:%Y-%m-%d}" if first and last else "undated"
    lines = [
        f"Profile from {profile.resolved} resolved tickets ({span}):",
        f"  recent activity {profile.activity:.1f} (each resolution counts half after {profiles.half_life_days:g} "
        f"days): {share:.1%} of the tenant's recent resolutions",
    ]
    if profile.median_hours is not None and profile.recent_median_hours is not None:
        typical = profiles.tenant_median_hours
        lines.append(
            f"  time to resolve: median {profile.median_hours:.1f} h, last {RECENT_RESOLUTIONS} "
            f"{profile.recent_median_hours:.1f} h (tenant median {typical or 0:.1f} h)"
        )
    rates = [
        f"{name} {value:.0%}"
        for name, value in (("reopened", profile.reopen_rate), ("escalated", profile.escalation_rate))
        if value is not None
    ]
    if rates:
        lines.append("  " + ", ".join(rates) + " of their resolutions")
    for name, values in sorted(profile.skills.items()):
        top = sorted(values.items(), key=lambda kv: -kv[1])[:_TOP_SKILLS]
        lines.append(f"  {name}: " + ", ".join(f"{value} ({weight:.1f})" for value, weight in top))
    if profile.languages:
        lines.append(
            "  languages of resolved tickets: " + ", ".join(f"{k} {v}" for k, v in sorted(profile.languages.items()))
        )
    terms = profiles.text_model.top_terms(profiles.index()[profile.agent_id]) if profiles.text_model else []
    if terms:
        lines.append("  words that point to them: " + ", ".join(terms))
    lines.append(
        "  a new ticket is also compared with the embeddings of these resolved tickets (kNN, recency-weighted)"
    )
    return lines

"""`caseworker agents import|list|show`: the roster of people tickets are routed to, and their skill profiles.

Registered by caseworker.cli as `app.add_typer(agents_app, name="agents")`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from caseworker.cli_common import EXIT_REJECTS, DataDir, err, fail, settings_for

if TYPE_CHECKING:
    from knowledge.history import History
    from knowledge.roster import Agent
    from tools.routing.profiles import AgentProfile, TenantProfiles

out = Console(soft_wrap=True)
_TOP_SKILLS = 5

agents_app = typer.Typer(
    help="The roster (people tickets are routed to) and their skill profiles.", no_args_is_help=True
)

Tenant = Annotated[str, typer.Option("--tenant", help="The tenant whose roster to use.")]


def _history(data_dir: Path | None, *, create: bool = False) -> History:
    from knowledge.history import History

    settings = settings_for(data_dir)
    if not create and settings.database_url is None and not settings.history_path.is_file():
        raise fail(f"no history at {settings.history_path}: import a roster first (wrong --data-dir?)")
    return History(settings.history_path, settings.database_url)


@agents_app.command("import")
def import_agents(
    file: Annotated[
        Path, typer.Argument(help="roster.csv, .json or .jsonl (columns: see `knowledge/roster_import.py`).")
    ],
    tenant: Annotated[str | None, typer.Option("--tenant", help="Tenant for rows that name none.")] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Where rejected rows go (default: FILE.rejects.txt beside the input).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Add or update agents (by tenant and id). Bad rows are listed as file:line: field: reason; exits 1 if any."""
    from knowledge.importers import ImportFileError
    from knowledge.roster import Roster
    from knowledge.roster_import import read_roster

    try:
        report = read_roster(file, tenant=tenant or "default")
    except ImportFileError as exc:
        raise fail(str(exc)) from exc
    history = _history(data_dir, create=True)
    new, updated = Roster(history).upsert(report.agents)
    err.print(f"{report.rows_read} rows read: {new} new agents, {updated} updated, {len(report.rejects)} rejected")
    written = report.write_rejects(rejects or file.with_name(file.name + ".rejects.txt"))
    if written is not None:
        for reject in report.rejects[:10]:
            err.print(f"  [yellow]{reject}[/yellow]", highlight=False)
        err.print(f"rejected rows written to {written}", highlight=False)
        raise typer.Exit(EXIT_REJECTS)


@agents_app.command("list")
def list_agents(
    tenant: Tenant = "default",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per agent.")] = False,
    data_dir: DataDir = None,
) -> None:
    """The tenant's agents with their open load, capacity, hours and whether they are on shift now."""
    from datetime import UTC, datetime

    from knowledge.assignments import Assignments
    from knowledge.roster import Roster

    history = _history(data_dir)
    agents = Roster(history).agents(tenant, active_only=False)
    load = Assignments(history).open_load(tenant)
    if as_json:
        for agent in agents:
            typer.echo(json.dumps({**agent.model_dump(mode="json"), "open_tickets": load.get(agent.id, 0)}))
        return
    now = datetime.now(UTC)
    table = Table(title=f"tenant {tenant}: {len(agents)} agents", title_justify="left")
    for column in ("id", "name", "teams", "languages", "open / capacity", "hours", "now", "senior"):
        table.add_column(column)
    for a in agents:
        state = "inactive" if not a.active else ("on shift" if a.on_shift(now) else "off shift")
        capacity = "∞" if a.capacity is None else str(a.capacity)
        table.add_row(
            a.id, a.name, ", ".join(a.teams), ", ".join(a.languages), f"{load.get(a.id, 0)} / {capacity}",
            a.hours.describe() if a.hours else "any time", state, "yes" if a.senior else "",
        )  # fmt: skip
    out.print(table)


@agents_app.command("show")
def show_agent(
    agent_id: Annotated[str, typer.Argument(help="The agent's id.")],
    tenant: Tenant = "default",
    data_dir: DataDir = None,
) -> None:
    """One agent: roster entry, open load, and the skill profile learned from resolution history, explained."""
    from knowledge.assignments import Assignments
    from knowledge.roster import Roster
    from tools.routing.context import RoutingContext

    history = _history(data_dir)
    agent = Roster(history).get(tenant, agent_id)
    profiles: TenantProfiles | None = RoutingContext(history).profiles(tenant)
    profile = profiles.agents.get(agent_id) if profiles else None
    if agent is None and profile is None:
        raise fail(f"no agent {agent_id!r} in tenant {tenant!r} (neither on the roster nor in the resolution history)")
    for line in _roster_lines(agent, Assignments(history).open_load(tenant).get(agent_id, 0)):
        out.print(line, highlight=False)
    for line in _profile_lines(profile, profiles):
        out.print(line, highlight=False)


def _roster_lines(agent: Agent | None, open_now: int) -> list[str]:
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


def _profile_lines(profile: AgentProfile | None, profiles: TenantProfiles | None) -> list[str]:
    from tools.routing.profiles import RECENT_RESOLUTIONS

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

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
    from tools.routing.profiles import TenantProfiles

out = Console(soft_wrap=True)

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
    from tools.routing.explain import profile_lines, roster_lines

    history = _history(data_dir)
    agent = Roster(history).get(tenant, agent_id)
    profiles: TenantProfiles | None = RoutingContext(history).profiles(tenant)
    profile = profiles.agents.get(agent_id) if profiles else None
    if agent is None and profile is None:
        raise fail(f"no agent {agent_id!r} in tenant {tenant!r} (neither on the roster nor in the resolution history)")
    for line in roster_lines(agent, Assignments(history).open_load(tenant).get(agent_id, 0)):
        out.print(line, highlight=False)
    for line in profile_lines(profile, profiles):
        out.print(line, highlight=False)

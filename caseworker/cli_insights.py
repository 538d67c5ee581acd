"""`caseworker insights incidents|accept|dismiss|forecast|anomalies|accounts`: what history says is coming,
per tenant (Rich tables, or `--json` lines; accounts also as CSV)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from caseworker.cli_common import DataDir, components_for, err, fail

if TYPE_CHECKING:
    from config.components import Components
    from insights.outreach import AccountRisk

insights_app = typer.Typer(help="Emerging incidents, volume forecasts with staffing, anomalies, accounts at risk.")


def _print(renderable: object) -> None:
    """A console per command, sized to the terminal when it prints (tables wrap to the width they get)."""
    Console(soft_wrap=True).print(renderable)


TenantOpt = Annotated[str | None, typer.Option("--tenant", help="The tenant (default: CASEWORKER_TENANT).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")]
NowOpt = Annotated[
    datetime | None, typer.Option("--now", help="As of this time (ISO; default: now), e.g. to replay history.")
]


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else (now if now.tzinfo else now.replace(tzinfo=UTC))


def _setup(data_dir: Path | None, tenant: str | None) -> tuple[Components, str]:
    components = components_for(data_dir)
    return components, tenant or components.settings.tenant


def _lines(rows: list[dict[str, object]]) -> None:
    for row in rows:
        typer.echo(json.dumps(row, default=str))


@insights_app.command("incidents")
def incidents_command(
    tenant: TenantOpt = None,
    state: Annotated[str | None, typer.Option(help="open, accepted or dismissed (default: all).")] = None,
    as_json: JsonOpt = False,
    data_dir: DataDir = None,
) -> None:
    """Emerging-incident proposals, the newest first: size, growth, customers, MRR, severity."""
    components, tenant = _setup(data_dir, tenant)
    if state is not None and state not in ("open", "accepted", "dismissed"):
        raise fail(f"--state must be open, accepted or dismissed, not {state!r}")
    found = components.incidents.list(tenant, (state,) if state else ("open", "accepted", "dismissed"))
    rows = [incident.summary() for incident in found]
    if as_json:
        return _lines(rows)
    table = Table("id", "state", "severity", "label", "members", "growth/h", "customers", "MRR", "first seen")
    for r in rows:
        keys = ("id", "state", "severity", "label", "members", "growth_per_hour", "customers", "mrr")
        table.add_row(*(str(r[k]) for k in keys), str(r["first_seen"])[:16])
    _print(table)
    return None


def _decide(incident_id: str, tenant: str | None, by: str | None, data_dir: Path | None, accept: bool) -> None:
    from knowledge.incidents import IncidentConflict
    from service.incident_actions import accepted

    components, tenant = _setup(data_dir, tenant)
    at = datetime.now(UTC)
    try:
        if accept:
            incident = components.surge.accept(tenant, incident_id, by, at)
        else:
            incident = components.surge.dismiss(tenant, incident_id, by, at)
    except KeyError:
        raise fail(f"tenant {tenant!r} has no incident {incident_id!r}") from None
    except IncidentConflict as exc:
        raise fail(str(exc)) from None
    if not accept:
        err.print(f"{incident.id}: {incident.state}")
        return
    done = accepted(components, incident, at)
    err.print(f"{incident.id}: accepted, {done['notices_queued']} notice(s) and {done['links_queued']} helpdesk "
              f"link(s) queued; a broadcast draft is ready (see the /insights page)")  # fmt: skip
    for skipped in done["links_skipped"]:
        err.print(f"  not linked: {skipped['ticket_id']}: {skipped['reason']}")


@insights_app.command("accept")
def accept_command(
    incident_id: str, tenant: TenantOpt = None, by: Annotated[str | None, typer.Option(help="Who decided.")] = None,
    data_dir: DataDir = None,
) -> None:  # fmt: skip
    """Accept an open incident proposal: notices go to the configured URLs, its members are linked in Zendesk/Jira
    (write-back jobs; new matches keep attaching and are linked too) and one broadcast reply is drafted."""
    _decide(incident_id, tenant, by, data_dir, accept=True)


@insights_app.command("dismiss")
def dismiss_command(
    incident_id: str, tenant: TenantOpt = None, by: Annotated[str | None, typer.Option(help="Who decided.")] = None,
    data_dir: DataDir = None,
) -> None:  # fmt: skip
    """Dismiss an open incident proposal: that cluster opens no new one for CASEWORKER_SURGE_SUPPRESS_HOURS."""
    _decide(incident_id, tenant, by, data_dir, accept=False)


@insights_app.command("forecast")
def forecast_command(
    tenant: TenantOpt = None,
    queue: Annotated[
        str | None, typer.Option(help="One queue ('*' is the tenant's total; default: every one).")
    ] = None,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    data_dir: DataDir = None,
) -> None:
    """The next 7 days per queue: daily counts with 80 % / 95 % intervals and the peak agents an hour needs."""
    from insights.volume import volume_forecast

    components, tenant = _setup(data_dir, tenant)
    found = volume_forecast(components.history, tenant, _now(now), components.staffing_policy(), queue)
    if as_json:
        return _lines([f.model_dump(mode="json") for f in found])
    if not found:
        err.print(f"tenant {tenant!r} has no tickets in the last weeks to forecast from")
    for f in found:
        table = Table("day", "expected", "80 %", "95 %", "peak agents/h", title=f"{tenant} · queue {f.queue} · "
                      f"{f.daily.method} on {f.daily.history_points} days")  # fmt: skip
        for point in f.daily.points:
            day = point.at.date()
            peak = max((s.agents for s in f.staffing if s.at.date() == day), default=0)
            table.add_row(str(day), f"{point.mean:.1f}", f"{point.lo80:.0f}–{point.hi80:.0f}",
                          f"{point.lo95:.0f}–{point.hi95:.0f}", str(peak))  # fmt: skip
        _print(table)
    return None


@insights_app.command("anomalies")
def anomalies_command(
    tenant: TenantOpt = None,
    hours: Annotated[int, typer.Option(min=1, max=24 * 14, help="Look back this many complete hours.")] = 24,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Hours whose count fell outside the forecast's 95 % interval, up (a flood) or down (a silent intake)."""
    from insights.volume import anomalies

    components, tenant = _setup(data_dir, tenant)
    found = anomalies(components.history, tenant, _now(now), hours)
    if as_json:
        return _lines([a.model_dump(mode="json") for a in found])
    table = Table("hour", "queue", "direction", "actual", "expected", "95 % interval")
    for a in found:
        table.add_row(a.at.isoformat()[:16], a.queue, a.direction, str(a.actual), f"{a.expected:.1f}",
                      f"{a.lo95:.1f}–{a.hi95:.1f}")  # fmt: skip
    _print(table if found else f"no anomalies in the last {hours} hours for {tenant!r}")
    return None


@insights_app.command("accounts")
def accounts_command(
    tenant: TenantOpt = None,
    days: Annotated[int, typer.Option(min=1, max=365, help="The recent window, compared with the one before.")] = 30,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Also write the list to this CSV file.")] = None,
    notify: Annotated[
        bool, typer.Option("--notify", help="Also queue the list for CASEWORKER_CRM_WEBHOOK_URLS (signed JSON).")
    ] = False,
    as_json: JsonOpt = False,
    now: NowOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Accounts whose recent tickets show rising friction, ranked, with the reasons and tickets behind them."""
    from insights.outreach import accounts_at_risk, accounts_csv

    components, tenant = _setup(data_dir, tenant)
    found = accounts_at_risk(components.history, tenant, _now(now), components.outreach_policy(days))
    if csv_file is not None:
        csv_file.write_text(accounts_csv(found), encoding="utf-8")
        err.print(f"wrote {len(found)} account(s) to {csv_file}")
    if notify:
        _notify_crm(components, tenant, found, days, _now(now))
    if as_json:
        return _lines([a.model_dump(mode="json") for a in found])
    table = Table("account", "score", "MRR", "tickets", "reasons", "ticket ids")
    for a in found:
        table.add_row(a.customer_id, f"{a.score:g}", f"{a.mrr:g}", str(a.tickets), "; ".join(r.text for r in a.reasons),
                      " ".join(a.ticket_ids))  # fmt: skip
    _print(table if found else f"no accounts with rising friction for {tenant!r}")
    return None


def _notify_crm(components: Components, tenant: str, found: list[AccountRisk], days: int, at: datetime) -> None:
    """Queue the list for the CRM webhook; a running service's workers send it (retried, audited)."""
    from service.crm_notices import NoCrmWebhook, notify_accounts

    try:
        queued = notify_accounts(components, tenant, found, days, at)
    except NoCrmWebhook as exc:
        raise fail(str(exc)) from None
    err.print(f"queued {len(found)} account(s) for {queued} CRM webhook(s); the service's workers send them")

"""Insights API (the review API's token or session): a tenant's volume forecast with recent actuals, anomalies,
emerging incidents (accept / dismiss) and accounts at risk (JSON or CSV). Every route names its tenant
(default: CASEWORKER_TENANT) and reads or changes that tenant's rows only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import Field

from insights.outreach import accounts_at_risk, accounts_csv
from insights.series import bin_starts, counts, floor
from insights.volume import ALL, anomalies, arrivals, volume_forecast
from knowledge.incidents import IncidentConflict
from service.auth import require_token
from service.incident_actions import accepted
from service.runtime import ServiceRuntime
from service.storable import Storable

router = APIRouter(prefix="/api/insights", tags=["insights"], dependencies=[Depends(require_token)])
TenantQuery = Query(None, max_length=200, description="The tenant (default: CASEWORKER_TENANT).")
#: Days of actual daily counts returned beside the forecast (the page plots them before the band).
ACTUAL_DAYS = 28


class IncidentDecision(Storable):
    by: str | None = Field(default=None, max_length=200)


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def _tenant(request: Request, tenant: str | None) -> str:
    return tenant or _runtime(request).settings.tenant


def _now() -> datetime:
    return datetime.now(UTC)


def _actuals(runtime: ServiceRuntime, tenant: str, queue: str, now: datetime) -> list[dict[str, Any]]:
    start = floor(now, "day") - timedelta(days=ACTUAL_DAYS)
    times = arrivals(runtime.components.history, tenant, start, now + timedelta(days=1)).get(queue, [])
    days = counts(times, start, now + timedelta(days=1), "day")
    return [
        {"at": at.isoformat(), "count": int(n)} for at, n in zip(bin_starts(start, len(days), "day"), days, strict=True)
    ]


@router.get("/forecast", summary="Next 7 days per queue (80/95 % intervals, staffing) with recent daily actuals")
def forecast(request: Request, tenant: str | None = TenantQuery,
             queue: str | None = Query(None, max_length=200)) -> dict[str, Any]:  # fmt: skip
    runtime, name, now = _runtime(request), _tenant(request, tenant), _now()
    found = volume_forecast(runtime.components.history, name, now, runtime.components.staffing_policy(), queue)
    items = [{**f.model_dump(mode="json"), "actual_daily": _actuals(runtime, name, f.queue, now)} for f in found]
    return {"tenant": name, "all_queues": ALL, "items": items}


@router.get("/anomalies", summary="Hours outside the forecast's 95 % interval, up or down")
def list_anomalies(request: Request, tenant: str | None = TenantQuery,
                   hours: int = Query(24, ge=1, le=24 * 14)) -> dict[str, Any]:  # fmt: skip
    name = _tenant(request, tenant)
    found = anomalies(_runtime(request).components.history, name, _now(), hours)
    return {"tenant": name, "items": [a.model_dump(mode="json") for a in found]}


@router.get("/incidents", summary="Emerging-incident proposals, the newest first")
def list_incidents(request: Request, tenant: str | None = TenantQuery,
                   state: Literal["open", "accepted", "dismissed"] | None = None) -> dict[str, Any]:  # fmt: skip
    name = _tenant(request, tenant)
    states = (state,) if state else ("open", "accepted", "dismissed")
    found = _runtime(request).components.incidents.list(name, states)
    items = [{**i.summary(), "members_timeline": [m.model_dump(mode="json") for m in i.members]} for i in found]
    return {"tenant": name, "items": items}


def _decide(request: Request, incident_id: str, tenant: str | None, body: IncidentDecision,
            accept: bool) -> dict[str, Any]:  # fmt: skip
    runtime, name = _runtime(request), _tenant(request, tenant)
    surge = runtime.components.surge
    try:
        if accept:
            incident = surge.accept(name, incident_id, body.by, _now())
        else:
            incident = surge.dismiss(name, incident_id, body.by, _now())
    except KeyError:
        raise HTTPException(404, f"tenant {name!r} has no incident {incident_id!r}") from None
    except IncidentConflict as exc:
        raise HTTPException(409, str(exc)) from None
    if not accept:
        return {**incident.summary(), "notices_queued": 0}
    return {**incident.summary(), **accepted(runtime.components, incident, _now())}


@router.post(
    "/incidents/{incident_id}/accept",
    summary="Accept an open proposal: notices to the configured URLs, "
    "member links in Zendesk/Jira (write-back jobs), one broadcast reply draft",
)
def accept(request: Request, incident_id: str, body: IncidentDecision | None = None,
           tenant: str | None = TenantQuery) -> dict[str, Any]:  # fmt: skip
    return _decide(request, incident_id, tenant, body or IncidentDecision(), accept=True)


@router.post("/incidents/{incident_id}/dismiss", summary="Dismiss an open proposal (suppresses its cluster)")
def dismiss(request: Request, incident_id: str, body: IncidentDecision | None = None,
            tenant: str | None = TenantQuery) -> dict[str, Any]:  # fmt: skip
    return _decide(request, incident_id, tenant, body or IncidentDecision(), accept=False)


def _accounts(request: Request, tenant: str | None, days: int) -> tuple[str, list[Any]]:
    runtime, name = _runtime(request), _tenant(request, tenant)
    found = accounts_at_risk(runtime.components.history, name, _now(), runtime.components.outreach_policy(days))
    return name, found


@router.get("/accounts", summary="Accounts with rising friction, ranked, with reasons and tickets")
def accounts(request: Request, tenant: str | None = TenantQuery, days: int = Query(30, ge=1, le=365)) -> dict[str, Any]:
    name, found = _accounts(request, tenant, days)
    return {"tenant": name, "items": [a.model_dump(mode="json") for a in found]}


@router.get("/accounts.csv", summary="The same list as CSV", response_class=PlainTextResponse)
def accounts_as_csv(request: Request, tenant: str | None = TenantQuery,
                    days: int = Query(30, ge=1, le=365)) -> PlainTextResponse:  # fmt: skip
    name, found = _accounts(request, tenant, days)
    disposition = f'attachment; filename="accounts-{"".join(c for c in name if c.isalnum()) or "tenant"}.csv"'
    return PlainTextResponse(accounts_csv(found), media_type="text/csv",
                             headers={"Content-Disposition": disposition})  # fmt: skip

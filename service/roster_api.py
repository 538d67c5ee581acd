"""Roster API: the people tickets are routed to, per tenant: list, show (with the skill profile explained) and
import (a CSV or JSON body, checked row by row as `caseworker agents import` checks a file).

Every route names one tenant (`?tenant=`, default `default`) and reads or writes only that tenant's agents; an
import row that names another tenant is rejected. Same bearer token (or review-page cookie) as the review API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from knowledge.importers import ImportFileError
from knowledge.roster import Agent
from knowledge.roster_import import RosterImport, parse_roster
from knowledge.schemas import MAX_TENANT_CHARS
from service.auth import require_token
from service.display import for_display
from service.runtime import ServiceRuntime
from tools.routing.explain import profile_lines, roster_lines

#: What an import body is called in its error messages (`body:3: capacity: ...`), where the CLI names the file.
BODY_NAME = "body"
#: Content type of an import body -> how it is read (as the CLI reads a file by its suffix).
IMPORT_TYPES = {
    "text/csv": ".csv",
    "application/csv": ".csv",
    "application/json": ".json",
    "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl",
    "application/x-jsonlines": ".jsonl",
}
#: How many rejects an error's `detail` quotes; `rejects` lists them all.
_QUOTED = 10


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def _tenant(tenant: str = Query("default", min_length=1, max_length=MAX_TENANT_CHARS)) -> str:
    tenant = tenant.strip()
    if not tenant or any(ord(ch) < 32 or ord(ch) == 127 for ch in tenant):
        raise HTTPException(422, detail="tenant: must be a non-empty name without control characters")
    return tenant


Tenant = Annotated[str, Depends(_tenant)]

router = APIRouter(prefix="/api/agents", tags=["roster"], dependencies=[Depends(require_token)])


def agent_view(agent: Agent, open_tickets: int, now: datetime) -> dict[str, Any]:
    """One roster entry as the API and the review page's picker show it, cleaned for display."""
    return for_display(
        {
            **agent.model_dump(mode="json"),
            "hours": agent.hours.describe() if agent.hours else None,
            "open_tickets": open_tickets,
            "on_shift": agent.on_shift(now),
        }
    )


@router.get("", summary="The tenant's agents with their open load, capacity and whether they are on shift now")
def list_agents(
    request: Request,
    tenant: Tenant,
    active_only: bool = Query(False, description="Leave out agents marked inactive"),
) -> dict[str, Any]:
    routing = _runtime(request).components.routing
    load = routing.assignments.open_load(tenant)
    now = datetime.now(UTC)
    agents = routing.roster.agents(tenant, active_only=active_only)
    return {"tenant": tenant, "items": [agent_view(a, load.get(a.id, 0), now) for a in agents]}


@router.get("/{agent_id}", summary="One agent: roster entry, open load and the skill profile, explained")
def show_agent(request: Request, agent_id: str, tenant: Tenant) -> dict[str, Any]:
    routing = _runtime(request).components.routing
    agent = routing.roster.get(tenant, agent_id)
    profiles = routing.profiles(tenant)
    profile = profiles.agents.get(agent_id) if profiles else None
    if agent is None and profile is None:
        raise HTTPException(404, detail=f"no agent {agent_id!r} in tenant {tenant!r}")
    open_now = routing.assignments.open_load(tenant).get(agent_id, 0)
    return for_display(
        {
            "tenant": tenant,
            "agent": agent_view(agent, open_now, datetime.now(UTC)) if agent else None,
            "open_tickets": open_now,
            "profile": profile.model_dump(mode="json") if profile else None,
            "explanation": [*roster_lines(agent, open_now), *profile_lines(profile, profiles)],
        }
    )


async def _body(request: Request, limit: int) -> bytes:
    """The body, refusing to buffer past `limit` whatever Content-Length claims."""
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, detail=f"body: {int(declared)} bytes exceeds {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, detail=f"body: exceeds {limit} bytes")
    return bytes(body)


def _rejected(report: RosterImport) -> JSONResponse:
    rejects = report.rejects
    quoted = "; ".join(str(r) for r in rejects[:_QUOTED]) + ("; ..." if len(rejects) > _QUOTED else "")
    detail = f"{len(rejects)} of {report.rows_read} rows rejected, nothing imported: {quoted}"
    items = [{"line": r.line, "field": r.field, "reason": r.reason, "message": str(r)} for r in rejects]
    return JSONResponse(for_display({"detail": detail, "rejects": items}), status_code=422)


@router.post(
    "/import",
    summary="Add or update the tenant's agents from a CSV or JSON body; any bad row rejects the whole body (422)",
    responses={413: {"description": "Body larger than CASEWORKER_MAX_BODY_BYTES"}, 415: {"description": "Not CSV/JSON"},
               422: {"description": "Rows rejected, each as body:LINE: FIELD: reason; nothing imported"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        "application/x-ndjson": {"schema": {"type": "string"}},
    }}},
)  # fmt: skip
async def import_agents(request: Request, tenant: Tenant) -> Any:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    suffix = IMPORT_TYPES.get(media)
    if suffix is None:
        raise HTTPException(415, detail=f"content type must be one of {', '.join(IMPORT_TYPES)}")
    runtime = _runtime(request)
    raw = await _body(request, runtime.settings.max_body_bytes)
    return await run_in_threadpool(_import, runtime, raw, suffix, tenant)


def _import(runtime: ServiceRuntime, raw: bytes, suffix: str, tenant: str) -> Any:
    try:
        report = parse_roster(BODY_NAME, raw, suffix, tenant=tenant)
    except ImportFileError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    if report.rejects:
        return _rejected(report)
    if not report.agents:
        raise HTTPException(422, detail=f"{BODY_NAME}: no agents to import")
    new, updated = runtime.components.routing.roster.upsert(report.agents)
    summary = {"rows_read": report.rows_read, "new": new, "updated": updated,
               "agents": [a.id for a in report.agents]}  # fmt: skip
    runtime.components.history.audit("roster_import", summary, tenant=tenant)
    return for_display({"tenant": tenant, **summary})

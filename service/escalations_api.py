"""Escalations API: what the graph escalated (P0, security, legal, data loss …), soonest SLA first, and the
agents' acknowledge / assign / resolve on them. Every change names who made it and the version it was
made against; a stale version or a change that no longer applies answers 409 with who got there first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import ConfigDict, Field

from knowledge.escalations import ESCALATION_STATES, Escalation, EscalationConflict
from service.auth import require_token
from service.display import for_display
from service.review_context import helpdesk_link
from service.runtime import ServiceRuntime
from service.storable import Storable

_STATE_FILTER = ("active", "all", *ESCALATION_STATES)


class Actor(Storable):
    model_config = ConfigDict(str_strip_whitespace=True)

    by: str = Field(min_length=1, max_length=200, description="Who acts (recorded with the time and audited)")
    #: The version the agent saw; when given, a newer one answers 409 instead of overwriting.
    version: int | None = Field(default=None, ge=1)


class AssignRequest(Storable):
    model_config = ConfigDict(str_strip_whitespace=True)

    assignee: str = Field(min_length=1, max_length=200, description="A person or team, free text")
    by: str = Field(min_length=1, max_length=200)
    #: Required: two agents assigning at once must not overwrite each other silently.
    version: int = Field(ge=1)


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def _shown(runtime: ServiceRuntime, escalation: Escalation) -> dict[str, Any]:
    item = escalation.as_dict()
    item["helpdesk_url"] = helpdesk_link(escalation.source, escalation.external_id, runtime.helpdesks)
    return for_display(item)


router = APIRouter(prefix="/api/escalations", tags=["escalations"], dependencies=[Depends(require_token)])


@router.get("", summary="Escalations, the soonest first-response SLA first")
def list_escalations(
    request: Request,
    state: str = Query("active", description="active (open or acknowledged), all, " + ", ".join(ESCALATION_STATES)),
    reason: str | None = Query(None, max_length=100, description="p0_incident, security, legal, data_loss, …"),
    tenant: str | None = Query(None, max_length=200),
    team: str | None = Query(None, max_length=200, description="Suggested for or assigned to this team"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    if state not in _STATE_FILTER:
        raise HTTPException(422, detail=f"state: must be one of {', '.join(_STATE_FILTER)}")
    runtime = _runtime(request)
    items = runtime.escalations.list(state=state, tenant=tenant, reason=reason, team=team, limit=limit)
    return {"items": [_shown(runtime, e) for e in items]}


@router.get("/teams", summary="Known teams and people to assign to (free text works too)")
def list_teams(request: Request, tenant: str | None = Query(None, max_length=200)) -> dict[str, Any]:
    return {"teams": for_display(_runtime(request).escalations.teams(tenant))}


@router.get("/{escalation_id}", summary="One escalation with its context packet")
def show_escalation(request: Request, escalation_id: str) -> dict[str, Any]:
    runtime = _runtime(request)
    escalation = runtime.escalations.get(escalation_id)
    if escalation is None:
        raise HTTPException(404, detail=f"no escalation {escalation_id}")
    return {"escalation": _shown(runtime, escalation)}


def _change(request: Request, escalation_id: str, action: str, **kwargs: Any) -> dict[str, Any]:
    runtime = _runtime(request)
    try:
        escalation = getattr(runtime.escalations, action)(escalation_id, **kwargs)
    except KeyError as exc:
        raise HTTPException(404, detail=f"no escalation {escalation_id}") from exc
    except EscalationConflict as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return {"escalation": _shown(runtime, escalation)}


@router.post("/{escalation_id}/acknowledge", summary="Take note of it (409 if someone already did)")
def acknowledge(request: Request, escalation_id: str, body: Actor) -> dict[str, Any]:
    return _change(request, escalation_id, "acknowledge", by=body.by, version=body.version)


@router.post("/{escalation_id}/assign", summary="Assign to a person or team (acknowledges it too)")
def assign(request: Request, escalation_id: str, body: AssignRequest) -> dict[str, Any]:
    return _change(request, escalation_id, "assign", assignee=body.assignee, by=body.by, version=body.version)


@router.post("/{escalation_id}/resolve", summary="Close it: handled")
def resolve(request: Request, escalation_id: str, body: Actor) -> dict[str, Any]:
    return _change(request, escalation_id, "resolve", by=body.by, version=body.version)

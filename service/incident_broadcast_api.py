"""An accepted incident's helpdesk side (its members' links and the one broadcast reply) and the accounts list's
CRM webhook, under the insights API (same token or session; every route names its tenant and touches only its
rows: another tenant's incident is 404)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import Field, field_validator

from config.components import Components
from insights.outreach import accounts_at_risk
from knowledge.incident_broadcasts import BroadcastBook, BroadcastConflict
from knowledge.incidents import Incident
from service.auth import require_token
from service.crm_notices import NoCrmWebhook, notify_accounts
from service.incident_actions import broadcast_plan, job_states, link_plan, send_broadcast, targets
from service.queue import JobQueue
from service.storable import Storable

router = APIRouter(prefix="/api/insights", tags=["insights"], dependencies=[Depends(require_token)])
TenantQuery = Query(None, max_length=200, description="The tenant (default: CASEWORKER_TENANT).")
#: A public reply longer than this is a mistake (Zendesk's own comment limit is far above any sane broadcast).
MAX_BROADCAST_CHARS = 10_000


class BroadcastEdit(Storable):
    body: str = Field(min_length=1, max_length=MAX_BROADCAST_CHARS)
    by: str | None = Field(default=None, max_length=200)

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the broadcast needs some text")
        return value


class BroadcastSend(Storable):
    by: str | None = Field(default=None, max_length=200)


def _components(request: Request) -> Components:
    return request.app.state.runtime.components  # type: ignore[no-any-return]


def _tenant(request: Request, tenant: str | None) -> str:
    return tenant or _components(request).settings.tenant


def _accepted(request: Request, incident_id: str, tenant: str | None, need_accepted: bool = True) -> Incident:
    name = _tenant(request, tenant)
    incident = _components(request).incidents.get(name, incident_id) if len(incident_id) <= 64 else None
    if incident is None:
        raise HTTPException(404, f"incident_id: tenant {name!r} has no incident {incident_id!r}")
    if need_accepted and incident.state != "accepted":
        raise HTTPException(409, f"incident {incident_id} is {incident.state}: accept it first")
    return incident


def helpdesk_view(components: Components, incident: Incident) -> dict[str, Any]:
    """Each member's helpdesk, its link and broadcast job states (or why it has none), and the broadcast."""
    queue = JobQueue(components.history)
    found = targets(queue, incident)
    broadcast = BroadcastBook(components.history).get(incident.tenant, incident.id)
    no_link = {s.ticket_id: s.reason for s in link_plan(incident, found)[1]}
    no_reply = {s.ticket_id: s.reason for s in broadcast_plan(incident, found, "-")[1]}
    states = job_states(components, incident)
    members = [{"ticket_id": t.ticket_id, "source": t.source, "external_id": t.external_id,
                "link": states.get(t.ticket_id, {}).get("link") or no_link.get(t.ticket_id, "not queued"),
                "broadcast": states.get(t.ticket_id, {}).get("broadcast") or no_reply.get(t.ticket_id, "not sent")}
               for t in found]  # fmt: skip
    return {**incident.summary(), "helpdesk_members": members,
            "broadcast": broadcast.model_dump(mode="json") if broadcast else None}  # fmt: skip


@router.get("/incidents/{incident_id}", summary="One incident: members with their helpdesk links and broadcast")
def incident_detail(request: Request, incident_id: str, tenant: str | None = TenantQuery) -> dict[str, Any]:
    return helpdesk_view(_components(request), _accepted(request, incident_id, tenant, need_accepted=False))


@router.put("/incidents/{incident_id}/broadcast", summary="Edit the accepted incident's broadcast draft")
def edit_broadcast(request: Request, incident_id: str, body: BroadcastEdit,
                   tenant: str | None = TenantQuery) -> dict[str, Any]:  # fmt: skip
    incident = _accepted(request, incident_id, tenant)
    try:
        edited = BroadcastBook(_components(request).history).edit(incident.tenant, incident.id, body.body, body.by,
                                                                  datetime.now(UTC))  # fmt: skip
    except KeyError:
        raise HTTPException(404, f"incident_id: incident {incident_id} has no broadcast draft") from None
    except BroadcastConflict as exc:
        raise HTTPException(409, str(exc)) from None
    return edited.model_dump(mode="json")


@router.post("/incidents/{incident_id}/broadcast/send", summary="Send the broadcast as a public reply to every member")
def send(request: Request, incident_id: str, body: BroadcastSend | None = None,
         tenant: str | None = TenantQuery) -> dict[str, Any]:  # fmt: skip
    incident = _accepted(request, incident_id, tenant)
    components = _components(request)
    try:
        sent, planned = send_broadcast(components, incident, (body or BroadcastSend()).by, datetime.now(UTC))
    except KeyError:
        raise HTTPException(404, f"incident_id: incident {incident_id} has no broadcast draft") from None
    except BroadcastConflict as exc:
        raise HTTPException(409, str(exc)) from None
    return {"broadcast": sent.model_dump(mode="json"), "replies_queued": planned.jobs_queued,
            "skipped": [s.model_dump() for s in planned.skipped]}  # fmt: skip


@router.post("/accounts/notify", summary="Send the ranked accounts list to the CRM webhook (signed JSON, retried)")
def accounts_notify(request: Request, tenant: str | None = TenantQuery,
                    days: int = Query(30, ge=1, le=365)) -> dict[str, Any]:  # fmt: skip
    components, name, now = _components(request), _tenant(request, tenant), datetime.now(UTC)
    found = accounts_at_risk(components.history, name, now, components.outreach_policy(days))
    try:
        queued = notify_accounts(components, name, found, days, now)
    except NoCrmWebhook as exc:
        raise HTTPException(409, str(exc)) from None
    return {"tenant": name, "accounts": len(found), "notices_queued": queued}

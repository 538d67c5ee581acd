"""What accepting an incident does in the helpdesks: link its members, and one broadcast reply for them all.

Both go through the write-back queue (retried with backoff, each attempt and outcome in the audit, dry-run
unless the helpdesk's write-back is on), one job per member, keyed `incident-link:<incident>:<ticket>` and
`incident-broadcast:<incident>:<ticket>`: a redelivered accept, a re-sent broadcast or a member attached twice
never queues a second job. A member's helpdesk and id come from the triage job its webhook made; members
imported in bulk or sent as generic JSON have no helpdesk and are skipped, as are members of helpdesks
without problem/incident links (Freshdesk, Intercom) for the links — each skip is reported with its reason.

Linking: per helpdesk, the incident's earliest member from it is the anchor (Zendesk's problem ticket, the
issue every other Jira member links to). Members attached after the accept are linked as they arrive; after
the broadcast went out they are sent the same reply too (a team answers everyone hit by one incident the
same way, and the lead need not watch for stragglers).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from agent.broadcast import draft_broadcast
from config.components import Components, LLMConfigError
from knowledge.incident_broadcasts import Broadcast, BroadcastBook
from knowledge.incidents import Incident, Member
from knowledge.jobs import NewJob
from knowledge.schemas import Ticket
from service.incident_notices import notify_incident
from service.queue import JobQueue
from service.writeback_plan import helpdesk_of
from tools.helpdesk.actions import IncidentLink, WriteBackAction, incident_tag
from tools.helpdesk.registry import links_incidents
from tools.retrieval import Retriever

LINK_KEY = "incident-link"
BROADCAST_KEY = "incident-broadcast"


class Target(BaseModel):
    ticket_id: str
    source: str | None = None
    external_id: str | None = None


class Skipped(BaseModel):
    ticket_id: str
    reason: str


class Planned(BaseModel):
    jobs_queued: int = 0
    skipped: list[Skipped] = []


def _queue(components: Components) -> JobQueue:
    s = components.settings
    return JobQueue(components.history, max_attempts=s.job_max_attempts, retry_base_s=s.job_retry_base_s)


def targets(queue: JobQueue, incident: Incident) -> list[Target]:
    """Each member with its helpdesk and that helpdesk's id, when its webhook's triage job says so."""
    out = []
    for member in incident.members:
        payload = queue.latest_payload(incident.tenant, member.ticket_id)
        found = helpdesk_of(Ticket.model_validate_json(payload)) if payload else None
        source, external_id = found if found else (None, None)
        out.append(Target(ticket_id=member.ticket_id, source=source, external_id=external_id))
    return out


def _job(key: str, incident: Incident, target: Target, **action: Any) -> NewJob:
    assert target.source is not None and target.external_id is not None
    write = WriteBackAction(source=target.source, tenant=incident.tenant, ticket_id=target.ticket_id,
                            external_id=target.external_id, **action)  # fmt: skip
    return NewJob(kind="writeback", source=target.source, delivery_id=f"{key}:{incident.id}:{target.ticket_id}",
                  tenant=incident.tenant, ticket_id=target.ticket_id, payload=write.model_dump_json())  # fmt: skip


def _no_helpdesk(target: Target) -> Skipped:
    return Skipped(ticket_id=target.ticket_id, reason="not from a helpdesk (imported, or sent as generic JSON)")


Plan = tuple[list[NewJob], list[Skipped]]


def link_plan(incident: Incident, found: list[Target], only: set[str] | None = None) -> Plan:
    """Link jobs for the members (or those in `only`), each linked to its helpdesk's anchor."""
    anchors: dict[str, str] = {}
    for target in found:  # members come earliest first
        if target.source and target.external_id:
            anchors.setdefault(target.source, target.external_id)
    jobs, skipped = [], []
    for target in found:
        if only is not None and target.ticket_id not in only:
            continue
        if target.source is None or target.external_id is None:
            skipped.append(_no_helpdesk(target))
        elif not links_incidents(target.source):
            skipped.append(Skipped(ticket_id=target.ticket_id, reason=f"{target.source} has no problem/incident links"))
        else:
            anchor = anchors[target.source]
            link = IncidentLink(incident_id=incident.id, anchor_external_id=None if anchor == target.external_id
                                else anchor)  # fmt: skip
            jobs.append(_job(LINK_KEY, incident, target, kind="link", link=link, tags=[incident_tag(incident.id)]))
    return jobs, skipped


def broadcast_plan(incident: Incident, found: list[Target], body: str,
                   only: set[str] | None = None) -> Plan:  # fmt: skip
    jobs, skipped = [], []
    for target in found:
        if only is not None and target.ticket_id not in only:
            continue
        if target.source is None or target.external_id is None:
            skipped.append(_no_helpdesk(target))
        else:
            jobs.append(_job(BROADCAST_KEY, incident, target, kind="reply", body=body))
    return jobs, skipped


def _enqueue(queue: JobQueue, jobs: list[NewJob]) -> int:
    return sum(queue.enqueue(job)[1] for job in jobs)


def link_members(components: Components, incident: Incident, only: set[str] | None = None) -> Planned:
    queue = _queue(components)
    jobs, skipped = link_plan(incident, targets(queue, incident), only)
    return Planned(jobs_queued=_enqueue(queue, jobs), skipped=skipped)


def draft_for(components: Components, incident: Incident, at: datetime) -> Broadcast:
    """The incident's broadcast draft (made now unless one exists)."""
    book = BroadcastBook(components.history)
    existing = book.get(incident.tenant, incident.id)
    if existing is not None:
        return existing
    s = components.settings
    try:
        llm = components.llm()
    except LLMConfigError:  # misconfigured llm mode: the template still drafts, the triage path reports it
        llm = None
    texts = components.incidents.member_texts(incident.tenant, incident.id)
    draft = draft_broadcast(Retriever(components.store, components.embedder), components.policy(),
                            tenant=incident.tenant, incident_id=incident.id, label=incident.label,
                            category=incident.category, texts=texts, signoff=s.signoff, k=s.k_kb, llm=llm)  # fmt: skip
    return book.draft(Broadcast(incident_id=incident.id, tenant=incident.tenant, body=draft.body,
                                grounded=draft.grounded, citations=draft.citations, note=draft.note,
                                drafted_at=at))  # fmt: skip


def send_broadcast(components: Components, incident: Incident, by: str | None,
                   at: datetime) -> tuple[Broadcast, Planned]:  # fmt: skip
    """Mark the draft sent and queue one public reply per member (KeyError / BroadcastConflict from the book)."""
    queue = _queue(components)
    book = BroadcastBook(components.history)
    draft = book.get(incident.tenant, incident.id)
    if draft is None:
        raise KeyError(incident.id)
    jobs, skipped = broadcast_plan(incident, targets(queue, incident), draft.body)
    sent, created = book.send(incident.tenant, incident.id, by, at, jobs, queue.max_attempts, queue.clock())
    return sent, Planned(jobs_queued=created, skipped=skipped)


def after_attach(components: Components, incident: Incident, member: Member) -> int:
    """A member joined an accepted incident: link it, and send it the broadcast if that went out; jobs queued."""
    if incident.state != "accepted":
        return 0
    queued = link_members(components, incident, {member.ticket_id}).jobs_queued
    broadcast = BroadcastBook(components.history).get(incident.tenant, incident.id)
    if broadcast is not None and broadcast.state == "sent":
        queue = _queue(components)
        jobs, _ = broadcast_plan(incident, targets(queue, incident), broadcast.body, {member.ticket_id})
        queued += _enqueue(queue, jobs)
    return queued


def accepted(components: Components, incident: Incident, at: datetime) -> dict[str, Any]:
    """What accepting does besides the state: notices, member links in the helpdesks, the broadcast draft."""
    links = link_members(components, incident)
    broadcast = draft_for(components, incident, at)
    return {"notices_queued": notify_incident(components, incident, "accepted"),
            "links_queued": links.jobs_queued, "links_skipped": [k.model_dump() for k in links.skipped],
            "broadcast": broadcast.model_dump(mode="json")}  # fmt: skip


def job_states(components: Components, incident: Incident) -> dict[str, dict[str, str]]:
    """ticket id -> {"link": state, "broadcast": state} of the incident's write-back jobs."""
    rows = components.history.query(
        "SELECT ticket_id, delivery_id, state FROM jobs WHERE tenant = ? AND kind = 'writeback' AND "
        "(delivery_id = ? || ticket_id OR delivery_id = ? || ticket_id)",
        (incident.tenant, f"{LINK_KEY}:{incident.id}:", f"{BROADCAST_KEY}:{incident.id}:"),
    )
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        kind = "link" if str(row["delivery_id"]).startswith(LINK_KEY) else "broadcast"
        out.setdefault(str(row["ticket_id"]), {})[kind] = str(row["state"])
    return out

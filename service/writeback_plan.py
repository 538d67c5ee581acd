"""What a triage or a review asks the helpdesk to do, as queued write-back jobs.

The jobs are planned here and stored in the same transaction as the result or the review decision, so
a crash can't lose them; a worker sends them later (tools.helpdesk), dry-run unless a source opts in.
"""

from __future__ import annotations

from collections.abc import Container

from agent.schemas import Action, TriageResult
from knowledge.jobs import NewJob
from knowledge.roster import Agent, Roster
from knowledge.schemas import Ticket
from prompts.loader import render
from tools.helpdesk.actions import Assignment, WriteBackAction, triage_tags
from tools.helpdesk.registry import writes_back


def helpdesk_of(ticket: Ticket) -> tuple[str, str] | None:
    """(source, the helpdesk's own id) for tickets that came from a helpdesk webhook, else None."""
    source, external_id = ticket.extra.get("source"), ticket.extra.get("external_id")
    if isinstance(source, str) and writes_back(source) and external_id:
        return str(source), str(external_id)
    return None


def result_labels(result: TriageResult) -> dict[str, str]:
    """The predicted labels, as tags and training labels; language is detected, never a label to learn."""
    predictions = result.classification.predictions()
    return {name: str(p.value) for name, p in predictions.items() if name != "language" and p.value is not None}


def triage_note(result: TriageResult) -> str:
    labels = result_labels(result)
    if result.escalation is not None:
        e = result.escalation
        details = f"Escalate to {e.suggested_team}: {e.summary}\n\n{e.context_for_agent}"
    elif result.draft is not None:
        heading = "Reply sent" if result.decision.action == Action.AUTO_RESOLVE else "Suggested reply (awaiting review)"
        if not result.draft.grounded:
            heading += f", a holding reply: no grounded answer ({result.draft.grounding_note})"
        details = f"{heading}:\n\n{result.draft.body}"
    else:
        details = ""
    return render(
        "writeback_note",
        action=result.decision.action.value,
        reason=result.decision.reason.value,
        explanation=result.decision.explanation,
        queue=labels.get("queue", "-"),
        category=labels.get("category", "-"),
        priority=labels.get("priority", "-"),
        sentiment=labels.get("sentiment", "-"),
        churn_risk=labels.get("churn_risk", "-"),
        first_response_due=result.sla.first_response_due.isoformat(timespec="minutes"),
        at_risk=" (at risk)" if result.sla.at_risk else "",
        details=details,
    ).text


def _helpdesk_id(roster: Roster | None, tenant: str, agent_id: str | None, source: str) -> str | None:
    """The agent's id in `source` (the roster's helpdesk_ids); None when unknown to this tenant or unmapped."""
    agent = roster.get(tenant, agent_id) if roster is not None and agent_id else None
    return agent.helpdesk_ids.get(source) if agent is not None else None  # type: ignore[call-overload]


def assignment(result: TriageResult, source: str, roster: Roster | None) -> Assignment | None:
    """The routing block's assignee and team, the assignee named by their id in `source` (the roster's
    helpdesk_ids); None without a routing suggestion."""
    routing = result.routing
    if routing is None or (routing.assignee is None and routing.team is None):
        return None
    agent_id = routing.assignee.agent_id if routing.assignee else None
    return Assignment(agent_id=agent_id, helpdesk_id=_helpdesk_id(roster, result.tenant, agent_id, source),
                      team=routing.team)  # fmt: skip


def _job(action: WriteBackAction, key: str) -> NewJob:
    return NewJob(
        kind="writeback",
        source=action.source,
        delivery_id=f"writeback:{key}:{action.kind}",
        tenant=action.tenant,
        ticket_id=action.ticket_id,
        payload=action.model_dump_json(),
    )


def triage_writebacks(ticket: Ticket, result: TriageResult, job_id: str, roster: Roster | None = None) -> list[NewJob]:
    """The internal note, tags, fields and suggested assignee for every triaged helpdesk ticket; the reply
    too when auto-resolved. `roster` maps the assignee to their id in the ticket's helpdesk."""
    target = helpdesk_of(ticket)
    if target is None:
        return []
    source, external_id = target
    labels = result_labels(result)
    common = {"source": source, "tenant": ticket.tenant, "ticket_id": ticket.id, "external_id": external_id}
    jobs = [
        _job(
            WriteBackAction(
                kind="triage",
                note=triage_note(result),
                tags=triage_tags(labels),
                fields=labels,
                assignment=assignment(result, source, roster),
                **common,
            ),
            job_id,
        )
    ]
    if result.decision.action == Action.AUTO_RESOLVE and result.draft is not None:
        jobs.append(_job(WriteBackAction(kind="reply", body=result.draft.body, **common), job_id))
    return jobs


def reply_writeback(ticket: Ticket, body: str, review_id: str) -> NewJob | None:
    """The approved reply, sent as a public reply on the helpdesk ticket."""
    target = helpdesk_of(ticket)
    if target is None:
        return None
    source, external_id = target
    action = WriteBackAction(
        kind="reply", source=source, tenant=ticket.tenant, ticket_id=ticket.id, external_id=external_id, body=body
    )
    return _job(action, review_id)


def _picked_team(result: TriageResult, agent: Agent | None) -> str | None:
    """The routed team when the picked agent works it (or declares no teams), else the agent's first team:
    a helpdesk refuses an assignee outside the ticket's group. The connector drops a team it can't map."""
    team = result.routing.team if result.routing is not None else None
    if agent is None or not agent.teams or team in agent.teams:
        return team
    return agent.teams[0]


def review_assignment_writeback(
    ticket: Ticket,
    result: TriageResult,
    picked: str | None,
    review_id: str,
    roster: Roster | None,
    assigns: Container[str],
) -> NewJob | None:
    """A reviewer's changed assignee, written to the ticket's helpdesk where it opts in to assignment
    (`assigns`: the helpdesks whose `<name>_assign` is on), named by the roster's id for that helpdesk.
    None when the pick is the routing suggestion (the triage write-back assigned them already)."""
    target = helpdesk_of(ticket)
    suggested = result.routing.assignee.agent_id if result.routing and result.routing.assignee else None
    if target is None or not picked or picked == suggested or target[0] not in assigns:
        return None
    source, external_id = target
    agent = roster.get(ticket.tenant, picked) if roster is not None else None
    pick = Assignment(agent_id=picked, helpdesk_id=_helpdesk_id(roster, ticket.tenant, picked, source),
                      team=_picked_team(result, agent))  # fmt: skip
    action = WriteBackAction(kind="assign", source=source, tenant=ticket.tenant, ticket_id=ticket.id,
                             external_id=external_id, assignment=pick)  # fmt: skip
    return _job(action, review_id)

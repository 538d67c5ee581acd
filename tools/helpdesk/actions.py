"""The unit of write-back work the service queues, and what applying it did.

A `WriteBackAction` is stored as JSON in a durable queue and executed later by a worker, possibly more than
once, so it carries everything needed to act: no lookups into the result store at execution time.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

#: A connector's name (tools.helpdesk.registry lists them): "zendesk", "intercom", "jira", "freshdesk", "generic".
Source = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
#: triage: the note, tags, fields and suggested assignee; reply: a public reply; assign: an assignee change alone
#: (a reviewer's pick on the review page); link: the ticket joined to an accepted incident's other members
#: (Zendesk problem/incident tickets, Jira issue links; see `IncidentLink`).
ActionKind = Literal["triage", "reply", "assign", "link"]

_TAG_UNSAFE = re.compile(r"[^a-z0-9_]")


class Assignment(BaseModel):
    """Who should work the ticket (the TriageResult's routing block), as the helpdesk's own ids.

    The connector writes it only where its `<name>_assign` setting is on; a team is sent as the group id
    its `<name>_group_ids` maps it to, and left out when unmapped.
    """

    #: Our roster id of the suggested assignee (None: only a team was suggested).
    agent_id: str | None = None
    #: The assignee's id in this helpdesk (the roster's helpdesk_ids); None: not mapped, nobody is assigned.
    helpdesk_id: str | None = None
    #: The routing team (a roster team or queue name).
    team: str | None = None


class IncidentLink(BaseModel):
    """An accepted incident's member, linked to the incident's first member from the same helpdesk (the anchor).

    Zendesk: the anchor becomes a `problem` ticket, every other member an `incident` ticket with `problem_id`.
    Jira: every other member gets an issue link to the anchor. Both are set, not added, so a re-run is harmless.
    """

    incident_id: str = Field(min_length=1, max_length=64)
    #: The anchor's id in this helpdesk; None: this ticket is the anchor.
    anchor_external_id: str | None = Field(default=None, min_length=1)


class WriteBackAction(BaseModel):
    """One write-back. `note` and `body` are plain text; clients convert them to the helpdesk's format."""

    kind: ActionKind
    source: Source
    tenant: str = Field(min_length=1)
    #: Caseworker's id for the ticket, e.g. "zendesk:35436".
    ticket_id: str = Field(min_length=1)
    #: The helpdesk's own id: Zendesk/Freshdesk ticket id, Intercom conversation id, Jira issue key.
    external_id: str = Field(min_length=1)
    #: Internal note (kind=triage).
    note: str | None = None
    tags: list[str] = Field(default_factory=list)
    #: Classification field -> value, e.g. {"category": "billing", "priority": "P2"}.
    fields: dict[str, str] = Field(default_factory=dict)
    #: Public reply (kind=reply).
    body: str | None = None
    #: The suggested (kind=triage) or picked (kind=assign) assignee and team, written where the helpdesk opts in.
    assignment: Assignment | None = None
    #: The incident this ticket joins (kind=link).
    link: IncidentLink | None = None

    @model_validator(mode="after")
    def _has_something_to_write(self) -> WriteBackAction:
        if self.kind == "reply" and not (self.body and self.body.strip()):
            raise ValueError("a reply action needs a non-empty body")
        if self.kind == "triage" and not (
            (self.note and self.note.strip()) or self.tags or self.fields or self.assignment
        ):
            raise ValueError("a triage action needs a note, tags or fields (or an assignment)")
        if self.kind == "assign" and self.assignment is None:
            raise ValueError("an assign action needs an assignment")
        if self.kind == "link" and self.link is None:
            raise ValueError("a link action needs a link")
        return self


class SentRequest(BaseModel):
    """One request as it was (or, in dry-run, would have been) sent. Headers are left out: they hold secrets."""

    method: str
    #: Absolute URL; only the path when the helpdesk's base URL is not configured (dry-run).
    url: str
    json_body: Any = None
    #: The helpdesk's HTTP status; None in dry-run or when no answer came.
    status: int | None = None


class WriteBackOutcome(BaseModel):
    source: Source
    kind: ActionKind
    ticket_id: str
    external_id: str
    dry_run: bool
    requests: list[SentRequest] = Field(default_factory=list)
    #: Why nothing was sent, when dry_run (e.g. "zendesk write-back is off").
    reason: str | None = None


def triage_tags(labels: dict[str, str]) -> list[str]:
    """Tags `caseworker_<field>__<value>` for classification labels.

    Zendesk tags cannot contain spaces and Jira labels neither, so anything outside [a-z0-9_] becomes "_";
    a double underscore separates field from value so `caseworker_category__billing` stays parseable.
    """
    tags: list[str] = []
    for field, value in labels.items():
        if not field.strip() or not str(value).strip():
            continue
        tag = f"caseworker_{_sanitise(field)}__{_sanitise(str(value))}"
        if tag not in tags:
            tags.append(tag)
    return tags


def incident_tag(incident_id: str) -> str:
    """The tag (Zendesk) or label (Jira) every member of an accepted incident carries."""
    return f"caseworker_incident__{_sanitise(incident_id)}"


def _sanitise(text: str) -> str:
    return _TAG_UNSAFE.sub("_", text.strip().lower())

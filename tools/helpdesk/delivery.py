"""What a verified webhook becomes: one Delivery, whatever helpdesk sent it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from knowledge.assignments import AssignmentEvent
from knowledge.schemas import Ticket
from tools.helpdesk.actions import Source


class Delivery(BaseModel):
    """A verified, normalised webhook delivery, ready to enqueue.

    `delivery_id` is the idempotency key: a helpdesk redelivering the same event sends the same one,
    so (source, delivery_id) identifies a job.
    """

    source: Source
    delivery_id: str = Field(min_length=1, max_length=256)
    topic: str
    ticket: Ticket | None = None
    ping: bool = False
    #: Why a verified event carries nothing to triage (an agent's comment, a private note, our own note):
    #: answered 200 `ignored`, no job. A helpdesk retries any 4xx/5xx, so these must not be errors.
    ignored: str | None = None
    #: A customer's new message on a known ticket: the ticket's body is that message, and the thread the
    #: ticket's last triage saw is continued (see service.followup).
    follow_up: bool = False
    #: The ticket's assignee and/or status as the helpdesk reports them, for each agent's open load
    #: (knowledge.assignments); applied whether or not the event has anything to triage.
    assignment: AssignmentEvent | None = None


class WebhookRejected(Exception):
    """A request the webhook endpoint refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason

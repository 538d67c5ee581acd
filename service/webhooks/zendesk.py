"""Zendesk: ticket event webhooks (`zen:event-type:ticket.*`) and trigger/automation webhooks.

A trigger webhook sends whatever JSON body the trigger defines; Caseworker reads `TRIGGER_TEMPLATE`
(Admin Center → Objects and rules → Triggers → action "Notify by: Active webhook", JSON body).

A customer's new public comment (a `ticket.comment_added` event by a non-staff author, or a trigger whose
`latest_comment` was written by the end user) is a follow-up: the ticket is triaged again with the comment
as its body and the description before it. Staff comments, private notes (ours included: our API user is
staff) and a first comment that only repeats the description are not new customer words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge.schemas import Message, Ticket
from service.webhooks.delivery import Delivery, WebhookRejected
from service.webhooks.normalise import (
    ExternalId,
    blank,
    customer,
    delivery_key,
    helpdesk_ticket,
    parse_time,
    same_text,
    validate,
)

#: The JSON body to paste into a Zendesk trigger's webhook action (placeholders rendered by Zendesk).
TRIGGER_TEMPLATE = """\
{
  "ticket": {
    "id": "{{ticket.id}}",
    "subject": "{{ticket.title}}",
    "description": "{{ticket.description}}",
    "priority": "{{ticket.priority}}",
    "tags": "{{ticket.tags}}",
    "requester": {
      "id": "{{ticket.requester.id}}",
      "name": "{{ticket.requester.name}}",
      "email": "{{ticket.requester.email}}"
    },
    "created_at": "{{ticket.created_at_with_timestamp}}",
    "latest_comment": {
      "body": "{{ticket.latest_public_comment}}",
      "author_id": "{{current_user.id}}",
      "author_role": "{{current_user.role}}"
    }
  }
}
"""

DELIVERY_HEADER = "X-Zendesk-Webhook-Invocation-Id"
TICKET_EVENT_PREFIX = "zen:event-type:ticket."
COMMENT_ADDED = "zen:event-type:ticket.comment_added"
#: `{{current_user.role}}` of a customer; agents and admins (our API user among them) are never follow-ups.
END_USER_ROLE = "end-user"


def _tag_list(value: Any) -> Any:
    # {{ticket.tags}} renders space-separated (Zendesk tags never contain spaces); event payloads send a list.
    if value is None:
        return []
    return value.split() if isinstance(value, str) else value


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class EventTicket(_Payload):
    """`detail` of a ticket event: the ticket as it is after the event."""

    id: ExternalId
    subject: str
    description: str = ""
    priority: str | None = None
    requester_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: str | None = None

    _tags = field_validator("tags", mode="before")(_tag_list)


class CommentAuthor(_Payload):
    id: str | None = None
    is_staff: bool | None = None
    name: str | None = None


class EventComment(_Payload):
    id: str | None = None
    body: str = ""
    is_public: bool = True
    author: CommentAuthor = Field(default_factory=CommentAuthor)


class EventChange(_Payload):
    """`event`: what changed; a comment event carries the comment."""

    comment: EventComment | None = None


class TicketEvent(_Payload):
    type: str
    id: str | None = None
    detail: EventTicket
    event: EventChange = Field(default_factory=EventChange)


class Requester(_Payload):
    id: str | None = None
    name: str | None = None
    email: str | None = None


class LatestComment(_Payload):
    body: str = ""
    author_id: str | None = None
    author_role: str | None = None


class TriggerTicket(_Payload):
    id: ExternalId
    subject: str
    description: str = ""
    priority: str | None = None
    tags: list[str] = Field(default_factory=list)
    requester: Requester | None = None
    created_at: str | None = None
    latest_comment: LatestComment | None = None

    _tags = field_validator("tags", mode="before")(_tag_list)


class TriggerPayload(_Payload):
    ticket: TriggerTicket


def parse(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    if "type" in body:
        return _parse_event(body, headers)
    if "ticket" in body:
        return _parse_trigger(body, headers)
    raise WebhookRejected(
        422, "body: expected a Zendesk ticket event (type, detail) or the trigger payload (ticket: {...})"
    )


def _parse_event(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    event_type = body.get("type")
    if not isinstance(event_type, str) or not event_type.startswith(TICKET_EVENT_PREFIX):
        raise WebhookRejected(422, f"type: {event_type!r} is not a ticket event ({TICKET_EVENT_PREFIX}*)")
    if event_type.endswith("deleted"):
        raise WebhookRejected(422, f"type: {event_type} removes a ticket; there is nothing to triage")
    key = delivery_key(headers, DELIVERY_HEADER)
    event = validate(TicketEvent, body)
    detail = event.detail
    message: str | None = None
    if event_type == COMMENT_ADDED:
        comment = event.event.comment
        if comment is None:
            raise WebhookRejected(422, "event.comment: Field required")
        ignored = _not_from_the_customer(comment, detail.requester_id)
        if ignored is not None:
            return Delivery(source="zendesk", delivery_id=key, topic=event_type, ignored=ignored)
        message = comment.body
    ticket, follow_up = _ticket(
        detail.id,
        subject=detail.subject,
        description=detail.description,
        message=message,
        created_at=detail.created_at,
        requester=customer(detail.requester_id),
        tags=detail.tags,
        priority=blank(detail.priority),
    )
    return Delivery(source="zendesk", delivery_id=key, topic=event_type, ticket=ticket, follow_up=follow_up)


def _not_from_the_customer(comment: EventComment, requester_id: str | None) -> str | None:
    """Why a comment is no new customer message, or None when it is one."""
    if not comment.is_public:
        return "a private comment (an internal note) is not a customer message"
    staff = comment.author.is_staff
    if staff is None:  # not sent: judge by who wrote it
        staff = bool(comment.author.id and requester_id and comment.author.id != requester_id)
    if staff:
        return "a comment by staff (an agent, or this service's API user) is not a customer message"
    if not comment.body.strip():
        return "the comment has no text"
    return None


def _ticket(
    external_id: str,
    *,
    subject: str,
    description: str,
    message: str | None,
    created_at: str | None,
    requester: dict[str, str | None] | None,
    tags: list[str],
    priority: str | None,
) -> tuple[Ticket, bool]:
    """The ticket, and whether it is a follow-up: a customer `message` that is not the description."""
    # Comments and the description are plain text. Zendesk also reports the first comment as comment_added.
    new = message.strip() if message is not None and not same_text(message, description) else ""
    thread = [Message(author="customer", body=description)] if new and description.strip() else []
    ticket = helpdesk_ticket(
        "zendesk",
        external_id,
        subject=subject,
        body=new or description,
        created_at=parse_time(created_at),
        customer=requester,
        tags=tags,
        priority=priority,
        thread=thread,
    )
    return ticket, bool(new)


def _parse_trigger(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    key = delivery_key(headers, DELIVERY_HEADER)
    payload = validate(TriggerPayload, body).ticket
    requester = payload.requester or Requester()
    latest = payload.latest_comment or LatestComment()
    by_customer = (blank(latest.author_role) or "").lower() == END_USER_ROLE or (
        blank(latest.author_role) is None
        and blank(latest.author_id) is not None
        and blank(latest.author_id) == blank(requester.id)
    )
    ticket, follow_up = _ticket(
        payload.id,
        subject=payload.subject,
        description=payload.description,
        # The updater is an agent (or our API user adding its note): its update carries no new customer words.
        message=latest.body if by_customer else None,
        created_at=payload.created_at,
        requester=customer(blank(requester.id) or blank(requester.email), requester.name),
        tags=payload.tags,
        priority=blank(payload.priority),
    )
    return Delivery(source="zendesk", delivery_id=key, topic="trigger", ticket=ticket, follow_up=follow_up)

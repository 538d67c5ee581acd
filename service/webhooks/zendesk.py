"""Zendesk: ticket event webhooks (`zen:event-type:ticket.*`) and trigger/automation webhooks.

A trigger webhook sends whatever JSON body the trigger defines; Caseworker reads `TRIGGER_TEMPLATE`
(Admin Center → Objects and rules → Triggers → action "Notify by: Active webhook", JSON body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.webhooks.delivery import Delivery, WebhookRejected
from service.webhooks.normalise import blank, customer, delivery_key, helpdesk_ticket, validate

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
    "created_at": "{{ticket.created_at_with_timestamp}}"
  }
}
"""

DELIVERY_HEADER = "X-Zendesk-Webhook-Invocation-Id"
TICKET_EVENT_PREFIX = "zen:event-type:ticket."


def _tag_list(value: Any) -> Any:
    # {{ticket.tags}} renders space-separated (Zendesk tags never contain spaces); event payloads send a list.
    if value is None:
        return []
    return value.split() if isinstance(value, str) else value


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class EventTicket(_Payload):
    """`detail` of a ticket event: the ticket as it is after the event."""

    id: str = Field(min_length=1)
    subject: str
    description: str = ""
    priority: str | None = None
    requester_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: str | None = None

    _tags = field_validator("tags", mode="before")(_tag_list)


class TicketEvent(_Payload):
    type: str
    id: str | None = None
    detail: EventTicket


class Requester(_Payload):
    id: str | None = None
    name: str | None = None
    email: str | None = None


class TriggerTicket(_Payload):
    id: str = Field(min_length=1)
    subject: str
    description: str = ""
    priority: str | None = None
    tags: list[str] = Field(default_factory=list)
    requester: Requester | None = None
    created_at: str | None = None

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
    ticket = helpdesk_ticket(
        "zendesk",
        detail.id,
        subject=detail.subject,
        body=detail.description,
        created_at=detail.created_at,
        customer=customer(detail.requester_id),
        tags=detail.tags,
        priority=blank(detail.priority),
    )
    return Delivery(source="zendesk", delivery_id=key, topic=event_type, ticket=ticket)


def _parse_trigger(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    key = delivery_key(headers, DELIVERY_HEADER)
    payload = validate(TriggerPayload, body).ticket
    requester = payload.requester or Requester()
    ticket = helpdesk_ticket(
        "zendesk",
        payload.id,
        subject=payload.subject,
        body=payload.description,
        created_at=payload.created_at,
        customer=customer(blank(requester.id) or blank(requester.email), requester.name),
        tags=payload.tags,
        priority=blank(payload.priority),
    )
    return Delivery(source="zendesk", delivery_id=key, topic="trigger", ticket=ticket)

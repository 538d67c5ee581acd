"""Freshdesk: an automation rule's "Trigger webhook" action (POST, JSON, advanced content).

Freshdesk signs nothing, so the rule also sends the shared secret in a custom header (default
`X-Caseworker-Secret`), and sends no delivery id, so the idempotency key is a hash of the payload:
a re-fired rule with identical content is the same delivery.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from service.webhooks.delivery import Delivery
from service.webhooks.normalise import ExternalId, blank, customer, helpdesk_ticket, html_to_text, parse_time, validate

#: The JSON body to paste into the rule's webhook action. The keys match what Freshdesk's "simple"
#: content mode sends, so either mode parses. Freshdesk has no documented ISO creation-date
#: placeholder, so `ticket_created_at` is optional (read when it parses, else the worker's clock is used).
TRIGGER_TEMPLATE = """\
{
  "freshdesk_webhook": {
    "ticket_id": "{{ticket.id}}",
    "ticket_subject": "{{ticket.subject}}",
    "ticket_description": "{{ticket.description}}",
    "ticket_priority": "{{ticket.priority}}",
    "ticket_tags": "{{ticket.tags}}",
    "ticket_contact_name": "{{ticket.requester.name}}",
    "ticket_contact_email": "{{ticket.requester.email}}"
  }
}
"""

# The API's numeric priorities, which a hand-written body may send instead of the names.
_NUMERIC_PRIORITY = {"1": "low", "2": "medium", "3": "high", "4": "urgent"}


class FreshdeskTicket(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    ticket_id: ExternalId
    ticket_subject: str
    ticket_description: str = ""
    ticket_priority: str | None = None
    ticket_tags: list[str] = Field(default_factory=list)
    ticket_contact_name: str | None = Field(
        default=None, validation_alias=AliasChoices("ticket_contact_name", "ticket_requester_name")
    )
    ticket_contact_email: str | None = Field(
        default=None, validation_alias=AliasChoices("ticket_contact_email", "ticket_requester_email")
    )
    ticket_created_at: str | None = None

    @field_validator("ticket_tags", mode="before")
    @classmethod
    def _split_tags(cls, value: Any) -> Any:
        # {{ticket.tags}} renders comma-separated.
        if value is None:
            return []
        if isinstance(value, str):
            return [tag.strip() for tag in value.split(",") if tag.strip()]
        return value


class FreshdeskPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    freshdesk_webhook: FreshdeskTicket


def payload_key(body: dict[str, Any]) -> str:
    """sha256 of the canonical JSON: equal content gives the same key whatever the whitespace or key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    payload = validate(FreshdeskPayload, body).freshdesk_webhook
    priority = blank(payload.ticket_priority)
    ticket = helpdesk_ticket(
        "freshdesk",
        payload.ticket_id,
        subject=payload.ticket_subject,
        body=html_to_text(payload.ticket_description),
        created_at=parse_time(payload.ticket_created_at),
        customer=customer(blank(payload.ticket_contact_email), payload.ticket_contact_name),
        tags=payload.ticket_tags,
        priority=_NUMERIC_PRIORITY.get(priority, priority) if priority else None,
    )
    return Delivery(source="freshdesk", delivery_id=payload_key(body), topic="automation", ticket=ticket)

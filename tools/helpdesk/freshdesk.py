"""Freshdesk, one connector: an automation rule's webhook in, tags and notes or replies out.

Inbound: an automation rule's "Trigger webhook" action (POST, JSON, advanced content). Freshdesk signs
nothing, so the rule also sends the shared secret in a custom header (default `X-Caseworker-Secret`), and
sends no delivery id, so the idempotency key is a hash of the payload: a re-fired rule with identical
content is the same delivery.

Outbound: tags on the ticket, then a private note (triage) or a reply (reply) (`FreshdeskClient`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator

from tools.helpdesk.actions import Source, WriteBackAction
from tools.helpdesk.base import GroupIds, HelpdeskClient, HelpdeskConfig, missing, numeric_id, secret
from tools.helpdesk.connector import Connector, RouteDoc
from tools.helpdesk.delivery import Delivery, WebhookRejected
from tools.helpdesk.errors import WriteBackError
from tools.helpdesk.http import Exchange
from tools.helpdesk.normalise import (
    ExternalId,
    Payload,
    assignment_event,
    blank,
    customer,
    helpdesk_ticket,
    html_to_text,
    parse_time,
    validate,
)
from tools.helpdesk.render import to_html
from tools.helpdesk.signing import header, same


class FreshdeskSettings(BaseModel):
    """Its settings keys (CASEWORKER_FRESHDESK_*)."""

    #: The shared secret the automation rule sends in `freshdesk_secret_header`; unset: no route (404).
    freshdesk_secret: SecretStr | None = None
    freshdesk_secret_header: str = "X-Caseworker-Secret"
    #: Live write-back; off: dry-run (logged to the audit, nothing sent).
    freshdesk_writeback: bool = False
    freshdesk_url: str | None = None
    freshdesk_api_key: SecretStr | None = None
    #: Write the routing block's assignee (`responder_id`) and group (`group_id`) (opt-in, like write-back itself).
    freshdesk_assign: bool = False
    #: Routing team -> Freshdesk group id, as JSON {"billing": "43000"}.
    freshdesk_group_ids: GroupIds = Field(default_factory=dict)


def verify(
    secret: str, body: bytes, headers: Mapping[str, str], *, settings: Any, now: float, tolerance_s: float
) -> None:
    name = settings.freshdesk_secret_header
    if not same(secret, header(headers, name)):
        raise WebhookRejected(401, f"bad {name}")


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


class FreshdeskTicket(Payload):
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
    #: Assignment and status, for the open load: the agent id (null: unassigned) and 2-5 or the status name.
    ticket_responder_id: str | None = Field(
        default=None, validation_alias=AliasChoices("ticket_responder_id", "ticket_agent_id")
    )
    ticket_status: str | None = None
    ticket_updated_at: str | None = None

    @field_validator("ticket_tags", mode="before")
    @classmethod
    def _split_tags(cls, value: Any) -> Any:
        # {{ticket.tags}} renders comma-separated.
        if value is None:
            return []
        if isinstance(value, str):
            return [tag.strip() for tag in value.split(",") if tag.strip()]
        return value


class FreshdeskPayload(Payload):
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
    assignment = None
    if {"ticket_responder_id", "ticket_status"} & payload.model_fields_set:
        at = parse_time(payload.ticket_updated_at)
        assignee, status = payload.ticket_responder_id, payload.ticket_status
        assignment = assignment_event("freshdesk", payload.ticket_id, assignee=assignee, status=status, at=at)
    return Delivery(source="freshdesk", delivery_id=payload_key(body), topic="automation", ticket=ticket,
                    assignment=assignment)  # fmt: skip


# --- write-back ---------------------------------------------------------------------------------


class FreshdeskConfig(HelpdeskConfig):
    #: e.g. https://acme.freshdesk.com
    url: str | None = None
    api_key: SecretStr | None = None

    @classmethod
    def from_settings(cls, s: FreshdeskSettings) -> FreshdeskConfig:
        return cls(url=s.freshdesk_url, api_key=s.freshdesk_api_key, assign=s.freshdesk_assign,
                   group_ids=s.freshdesk_group_ids)  # fmt: skip


class FreshdeskClient(HelpdeskClient[FreshdeskConfig]):
    """Tags, then `POST /api/v2/tickets/{id}/notes` (`private: true`) or `POST /api/v2/tickets/{id}/reply`.

    `PUT /api/v2/tickets/{id}` with `tags` replaces the ticket's tags, and Freshdesk has no "add tags" call,
    so live it first reads the ticket (`GET`) and puts back the union, skipping the PUT when every tag is
    already there. A tag an agent adds between the GET and the PUT is lost; the window is one round trip.
    In dry-run the PUT lists only the action's tags, since the ticket's current ones are not read.
    Fields are not written: Freshdesk custom fields are per-account `cf_*` names; tags carry them.
    """

    source: ClassVar[Source] = "freshdesk"
    config_model = FreshdeskConfig

    def missing_settings(self) -> list[str]:
        return missing(
            {"CASEWORKER_FRESHDESK_URL": self.config.url, "CASEWORKER_FRESHDESK_API_KEY": self.config.api_key}
        )

    def base_url(self) -> str:
        return self.config.url or ""

    def agent_path(self, external_id: str) -> str:
        return f"/a/tickets/{external_id}"

    def _auth(self) -> tuple[httpx.Auth | None, dict[str, str]]:
        # Freshdesk takes the API key as the user name; the password is ignored.
        return httpx.BasicAuth(secret(self.config.api_key), "X"), {}

    def _write(self, action: WriteBackAction, exchange: Exchange) -> None:
        ticket = f"/api/v2/tickets/{quote(action.external_id, safe='')}"
        update: dict[str, Any] = {}
        if action.tags:
            current = exchange.send("GET", ticket)
            existing = _tags_of(current) if current is not None else []
            tags = existing + [tag for tag in action.tags if tag not in existing]
            if current is None or len(tags) > len(existing):
                update["tags"] = tags
        assignee, group = self.config.assignee(action)
        if assignee:
            update["responder_id"] = numeric_id(assignee)
        if group:
            update["group_id"] = numeric_id(group)
        if update:
            exchange.send("PUT", ticket, update)
        if action.kind == "reply" and action.body and action.body.strip():
            exchange.send("POST", f"{ticket}/reply", {"body": to_html(action.body)})
        elif action.kind == "triage" and action.note and action.note.strip():
            exchange.send("POST", f"{ticket}/notes", {"body": to_html(action.note), "private": True})


def _tags_of(response: httpx.Response) -> list[str]:
    # Guessing "no tags" from an unreadable answer would make the PUT wipe the ticket's tags.
    try:
        payload = response.json()
    except ValueError:
        payload = None
    tags = payload.get("tags", []) if isinstance(payload, dict) else None
    if not isinstance(tags, list):
        raise WriteBackError(f"freshdesk ticket has no readable tags list: {response.text[:200]}")
    return [str(tag) for tag in tags]


CONNECTOR = Connector(
    name="freshdesk",
    settings=FreshdeskSettings,
    verify=verify,
    parse=parse,
    route=RouteDoc(
        summary="Receive a Freshdesk automation-rule webhook",
        description=(
            "A Freshdesk automation rule's webhook action whose JSON body is the template shown in the example. "
            "Freshdesk signs nothing: the rule sends the shared secret in a custom header (`X-Caseworker-Secret` "
            "unless CASEWORKER_FRESHDESK_SECRET_HEADER names another). The delivery id is a hash of the payload."
        ),
        example=json.loads(TRIGGER_TEMPLATE),
    ),
    client=FreshdeskClient,
)

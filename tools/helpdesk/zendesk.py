"""Zendesk, one connector: signed webhooks in (ticket events and trigger payloads), write-back out.

Inbound: ticket event webhooks (`zen:event-type:ticket.*`) and trigger/automation webhooks, signed with
`X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(secret, timestamp + body)), the timestamp ISO 8601 in
`X-Zendesk-Webhook-Signature-Timestamp`. A trigger webhook sends whatever JSON body the trigger defines;
Caseworker reads `TRIGGER_TEMPLATE` (Admin Center → Objects and rules → Triggers → action "Notify by:
Active webhook", JSON body).

A customer's new public comment (a `ticket.comment_added` event by a non-staff author, or a trigger whose
`latest_comment` was written by the end user) is a follow-up: the ticket is triaged again with the comment
as its body and the description before it. Staff comments, private notes (ours included: our API user is
staff) and a first comment that only repeats the description are not new customer words.

Outbound: one ticket update carries the comment, tags and custom fields (`ZendeskClient`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field, SecretStr, field_validator

from knowledge.assignments import AssignmentEvent
from knowledge.schemas import Message, Ticket
from tools.helpdesk.actions import Source, WriteBackAction
from tools.helpdesk.base import GroupIds, HelpdeskClient, HelpdeskConfig, missing, numeric_id, secret
from tools.helpdesk.connector import Connector, RouteDoc
from tools.helpdesk.delivery import Delivery, WebhookRejected
from tools.helpdesk.http import Exchange
from tools.helpdesk.normalise import (
    ExternalId,
    Payload,
    assignment_event,
    blank,
    customer,
    delivery_key,
    helpdesk_ticket,
    parse_time,
    same_text,
    validate,
)
from tools.helpdesk.render import to_html
from tools.helpdesk.signing import check_age, digest, header, same


class ZendeskSettings(BaseModel):
    """Its settings keys (CASEWORKER_ZENDESK_*)."""

    #: The webhook's signing secret; unset: no route (404).
    zendesk_secret: SecretStr | None = None
    #: Live write-back; off: dry-run (logged to the audit, nothing sent).
    zendesk_writeback: bool = False
    zendesk_url: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None
    #: Zendesk custom field ids to fill, as JSON {"category": 360001, "priority": 360002}.
    zendesk_field_ids: dict[str, int] = Field(default_factory=dict)
    #: Write the routing block's assignee (`assignee_id`) and group (`group_id`) (opt-in, like write-back itself).
    zendesk_assign: bool = False
    #: Routing team -> Zendesk group id, as JSON {"billing": "360002"}.
    zendesk_group_ids: GroupIds = Field(default_factory=dict)


SIGNATURE = "X-Zendesk-Webhook-Signature"
TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"


def _digest(secret: str, body: bytes, timestamp: str) -> str:
    return base64.b64encode(digest(secret, timestamp.encode("utf-8") + body, "sha256")).decode("ascii")


def verify(
    secret: str, body: bytes, headers: Mapping[str, str], *, settings: Any = None, now: float, tolerance_s: float
) -> None:
    signature = header(headers, SIGNATURE)
    timestamp = header(headers, TIMESTAMP)
    if not same(_digest(secret, body, timestamp), signature):
        raise WebhookRejected(401, f"bad {SIGNATURE}")
    try:
        sent = datetime.fromisoformat(timestamp.strip())
    except ValueError:
        raise WebhookRejected(401, f"malformed {TIMESTAMP}: expected ISO 8601") from None
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    check_age(sent.timestamp(), now, tolerance_s, TIMESTAMP)


def sign(secret: str, body: bytes, timestamp: float) -> dict[str, str]:
    stamp = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {SIGNATURE: _digest(secret, body, stamp), TIMESTAMP: stamp}


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


class EventTicket(Payload):
    """`detail` of a ticket event: the ticket as it is after the event."""

    id: ExternalId
    subject: str
    description: str = ""
    priority: str | None = None
    requester_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: str | None = None
    assignee_id: str | None = None
    status: str | None = None
    updated_at: str | None = None

    _tags = field_validator("tags", mode="before")(_tag_list)


class CommentAuthor(Payload):
    id: str | None = None
    is_staff: bool | None = None
    name: str | None = None


class EventComment(Payload):
    id: str | None = None
    body: str = ""
    is_public: bool = True
    author: CommentAuthor = Field(default_factory=CommentAuthor)


class EventChange(Payload):
    """`event`: what changed; a comment event carries the comment."""

    comment: EventComment | None = None


class TicketEvent(Payload):
    type: str
    id: str | None = None
    time: str | None = None
    detail: EventTicket
    event: EventChange = Field(default_factory=EventChange)


class Requester(Payload):
    id: str | None = None
    name: str | None = None
    email: str | None = None


class LatestComment(Payload):
    body: str = ""
    author_id: str | None = None
    author_role: str | None = None


class TriggerTicket(Payload):
    id: ExternalId
    subject: str
    description: str = ""
    priority: str | None = None
    tags: list[str] = Field(default_factory=list)
    requester: Requester | None = None
    created_at: str | None = None
    latest_comment: LatestComment | None = None
    assignee_id: str | None = None
    status: str | None = None
    updated_at: str | None = None

    _tags = field_validator("tags", mode="before")(_tag_list)


class TriggerPayload(Payload):
    ticket: TriggerTicket


def parse(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    if "type" in body:
        return _parse_event(body, headers)
    if "ticket" in body:
        return _parse_trigger(body, headers)
    raise WebhookRejected(
        422, "body: expected a Zendesk ticket event (type, detail) or the trigger payload (ticket: {...})"
    )


def _assignment(ticket: EventTicket | TriggerTicket, at: str | None) -> AssignmentEvent | None:
    """The assignee and status, when the payload carries either. Ticket events always do; a trigger body does
    when its `ticket` also has `"assignee_id": "{{ticket.assignee.id}}", "status": "{{ticket.status}}",
    "updated_at": "{{ticket.updated_at_with_timestamp}}"`."""
    if not {"assignee_id", "status"} & ticket.model_fields_set:
        return None
    return assignment_event("zendesk", ticket.id, assignee=ticket.assignee_id, status=ticket.status,
                            at=parse_time(at or ticket.updated_at))  # fmt: skip


def _parse_event(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    event_type = body.get("type")
    if not isinstance(event_type, str) or not event_type.startswith(TICKET_EVENT_PREFIX):
        raise WebhookRejected(422, f"type: {event_type!r} is not a ticket event ({TICKET_EVENT_PREFIX}*)")
    if event_type.endswith("deleted"):
        raise WebhookRejected(422, f"type: {event_type} removes a ticket; there is nothing to triage")
    key = delivery_key(headers, DELIVERY_HEADER)
    event = validate(TicketEvent, body)
    detail = event.detail
    assignment = _assignment(detail, event.time)
    message: str | None = None
    if event_type == COMMENT_ADDED:
        comment = event.event.comment
        if comment is None:
            raise WebhookRejected(422, "event.comment: Field required")
        ignored = _not_from_the_customer(comment, detail.requester_id)
        if ignored is not None:
            return Delivery(source="zendesk", delivery_id=key, topic=event_type, ignored=ignored, assignment=assignment)
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
    return Delivery(
        source="zendesk", delivery_id=key, topic=event_type, ticket=ticket, follow_up=follow_up, assignment=assignment
    )


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
    return Delivery(source="zendesk", delivery_id=key, topic="trigger", ticket=ticket, follow_up=follow_up,
                    assignment=_assignment(payload, None))  # fmt: skip


# --- write-back ---------------------------------------------------------------------------------


class ZendeskConfig(HelpdeskConfig):
    #: e.g. https://acme.zendesk.com
    url: str | None = None
    email: str | None = None
    api_token: SecretStr | None = None
    #: Classification field -> Zendesk custom field id; fields not listed here are only tagged.
    field_ids: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def from_settings(cls, s: ZendeskSettings) -> ZendeskConfig:
        return cls(url=s.zendesk_url, email=s.zendesk_email, api_token=s.zendesk_api_token,
                   field_ids=s.zendesk_field_ids, assign=s.zendesk_assign, group_ids=s.zendesk_group_ids)  # fmt: skip


class ZendeskClient(HelpdeskClient[ZendeskConfig]):
    """`PUT /api/v2/tickets/{id}.json` with a private comment (triage) or a public one (reply), sent as
    `html_body` so paragraphs, line breaks and links survive (a plain `body` loses links' targets).

    Tags go in `additional_tags`, which adds to the ticket's tags; `tags` would replace them. Zendesk
    answers 409 when two updates of one ticket collide; sending the same update again is the fix, so 409 is
    retried like a 5xx.

    An incident link (kind=link) uses the ticket's own `type` and `problem_id` fields: the anchor is set to
    `type: problem`; another member first makes sure the anchor is a problem (link jobs run in any order,
    and Zendesk refuses a `problem_id` that names no problem ticket), then becomes `type: incident` with
    `problem_id` the anchor. Setting a type twice changes nothing, so a retried job duplicates nothing.
    """

    source: ClassVar[Source] = "zendesk"
    config_model = ZendeskConfig
    retry_statuses: ClassVar[frozenset[int]] = frozenset({409})
    links_incidents: ClassVar[bool] = True

    def missing_settings(self) -> list[str]:
        return missing(
            {
                "CASEWORKER_ZENDESK_URL": self.config.url,
                "CASEWORKER_ZENDESK_EMAIL": self.config.email,
                "CASEWORKER_ZENDESK_API_TOKEN": self.config.api_token,
            }
        )

    def base_url(self) -> str:
        return self.config.url or ""

    def agent_path(self, external_id: str) -> str:
        return f"/agent/tickets/{external_id}"

    def _auth(self) -> tuple[httpx.Auth | None, dict[str, str]]:
        return httpx.BasicAuth(f"{self.config.email}/token", secret(self.config.api_token)), {}

    def _write(self, action: WriteBackAction, exchange: Exchange) -> None:
        ticket: dict[str, Any] = {}
        text = action.body if action.kind == "reply" else action.note
        if text and text.strip():
            ticket["comment"] = {"html_body": to_html(text), "public": action.kind == "reply"}
        if action.tags:
            ticket["additional_tags"] = list(action.tags)
        custom_fields = [
            {"id": self.config.field_ids[field], "value": value}
            for field, value in action.fields.items()
            if field in self.config.field_ids
        ]
        if custom_fields:
            ticket["custom_fields"] = custom_fields
        assignee, group = self.config.assignee(action)
        if assignee:
            ticket["assignee_id"] = numeric_id(assignee)
        if group:
            ticket["group_id"] = numeric_id(group)
        if action.link is not None:
            ticket.update(self._link(action.link.anchor_external_id, exchange))
        if ticket:
            exchange.send("PUT", f"/api/v2/tickets/{quote(action.external_id, safe='')}.json", {"ticket": ticket})

    def _link(self, anchor: str | None, exchange: Exchange) -> dict[str, Any]:
        """The member's own fields for an incident link, after making the anchor a problem ticket."""
        if anchor is None:
            return {"type": "problem"}
        path = f"/api/v2/tickets/{quote(anchor, safe='')}.json"
        exchange.send("PUT", path, {"ticket": {"type": "problem"}})
        return {"type": "incident", "problem_id": numeric_id(anchor)}


CONNECTOR = Connector(
    name="zendesk",
    settings=ZendeskSettings,
    verify=verify,
    parse=parse,
    route=RouteDoc(
        summary="Receive a Zendesk ticket webhook",
        description=(
            "A Zendesk webhook connected to ticket events (`zen:event-type:ticket.*`) or to a trigger whose JSON "
            "body is the template shown in the example. Authenticated with `X-Zendesk-Webhook-Signature` "
            "(base64 HMAC-SHA256 of timestamp + body, the webhook's signing secret) and "
            "`X-Zendesk-Webhook-Signature-Timestamp`; `X-Zendesk-Webhook-Invocation-Id` is the delivery id."
        ),
        example=json.loads(TRIGGER_TEMPLATE),
    ),
    client=ZendeskClient,
)

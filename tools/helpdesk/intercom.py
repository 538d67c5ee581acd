"""Intercom, one connector: webhook notifications in, admin notes and replies out.

Inbound: webhook notifications (`notification_event`) for conversation topics, and the `ping` handshake,
signed with `X-Hub-Signature: sha1=<hex HMAC-SHA1(client secret, body)>` (no timestamp header: the
notification's `created_at`, inside the signed body, bounds replays). Each notification carries its own
`id`, stable across Intercom's retries: that is the idempotency key. `conversation.user.replied` is a
follow-up: the customer's newest part becomes the body and the opening message (and any earlier parts
sent along) the thread. `conversation.admin.*` topics (an admin's reply, note, assignment; this service's
own notes and replies are admin parts) carry no customer words: ignored.

Outbound: an admin note (triage) or an admin reply (reply) on the conversation (`IntercomClient`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field, SecretStr, field_validator

from knowledge.assignments import AssignmentEvent
from knowledge.schemas import Message
from tools.helpdesk.actions import Source, WriteBackAction
from tools.helpdesk.base import GroupIds, HelpdeskClient, HelpdeskConfig, missing, secret
from tools.helpdesk.connector import Connector, RouteDoc
from tools.helpdesk.delivery import Delivery, WebhookRejected
from tools.helpdesk.http import Exchange
from tools.helpdesk.normalise import (
    MAX_DELIVERY_ID,
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
from tools.helpdesk.signing import HUB_SIGNATURE, hub_signature, payload_number, verify_hub_signature


class IntercomSettings(BaseModel):
    """Its settings keys (CASEWORKER_INTERCOM_*)."""

    #: The app's client secret, which signs the notifications; unset: no route (404).
    intercom_secret: SecretStr | None = None
    #: Live write-back; off: dry-run (logged to the audit, nothing sent).
    intercom_writeback: bool = False
    intercom_url: str = "https://api.intercom.io"
    intercom_access_token: SecretStr | None = None
    intercom_admin_id: str | None = None
    #: For links from the review page to a conversation in the Intercom inbox (the id in its URL).
    intercom_app_id: str | None = None
    intercom_app_url: str = "https://app.intercom.com"
    #: Write the routing block's assignee (`admin_assignee_id`) and team (`team_assignee_id`); opt-in.
    intercom_assign: bool = False
    #: Routing team -> Intercom team id, as JSON {"billing": "5017691"}.
    intercom_group_ids: GroupIds = Field(default_factory=dict)


def verify(
    secret: str, body: bytes, headers: Mapping[str, str], *, settings: Any = None, now: float, tolerance_s: float
) -> None:
    verify_hub_signature(secret, body, headers, "sha1", sent_at=payload_number(body, "created_at"), now=now,
                         tolerance_s=tolerance_s, what="notification created_at")  # fmt: skip


def sign(secret: str, body: bytes) -> dict[str, str]:
    return {HUB_SIGNATURE: hub_signature(secret, body, "sha1")}


CONVERSATION_TOPIC_PREFIX = "conversation."
USER_REPLIED = "conversation.user.replied"
ADMIN_TOPIC_PREFIX = "conversation.admin."
# The requester is a contact; an admin or bot authoring the opening part is not the customer.
_CUSTOMER_AUTHORS = frozenset({"user", "lead", "contact"})


class Author(Payload):
    type: str | None = None
    id: str | None = None
    name: str | None = None
    email: str | None = None


class ConversationSource(Payload):
    subject: str | None = None
    body: str | None = None
    author: Author | None = None


class Tag(Payload):
    name: str


class TagList(Payload):
    tags: list[Tag] = Field(default_factory=list)


class Part(Payload):
    part_type: str | None = None
    body: str | None = None
    author: Author | None = None
    created_at: int | None = None


class PartList(Payload):
    conversation_parts: list[Part] = Field(default_factory=list)


class Conversation(Payload):
    id: ExternalId
    title: str | None = None
    created_at: int | None = None
    priority: str | None = None
    source: ConversationSource
    tags: TagList | None = None
    conversation_parts: PartList | None = None
    admin_assignee_id: str | None = None
    state: str | None = None
    updated_at: int | None = None


class Data(Payload):
    item: Conversation


class Notification(Payload):
    type: str | None = None
    id: str | None = Field(default=None, max_length=MAX_DELIVERY_ID)
    topic: str
    created_at: int | None = None
    data: Data

    @field_validator("id")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return blank(value)


def _by_customer(author: Author | None) -> bool:
    return author is not None and (author.type or "user") in _CUSTOMER_AUTHORS


def _message(part: Part) -> Message | None:
    # Notes are internal (ours among them); assignments and other parts without text say nothing.
    text = html_to_text(part.body or "")
    if part.part_type == "note" or not text:
        return None
    author = "customer" if _by_customer(part.author) else "agent"
    return Message(author=author, body=text, at=parse_time(part.created_at, epoch_seconds=True))


def _follow_up(conversation: Conversation) -> tuple[str, list[Message]] | None:
    """The customer's newest part and the conversation before it (opening message first), if any."""
    parts = conversation.conversation_parts.conversation_parts if conversation.conversation_parts else []
    messages = [(part, message) for part in parts if (message := _message(part)) is not None]
    latest = next((i for i in range(len(messages) - 1, -1, -1) if messages[i][1].author == "customer"), None)
    if latest is None:
        return None
    opening = html_to_text(conversation.source.body or "")
    thread = [Message(author="customer" if _by_customer(conversation.source.author) else "agent", body=opening)]
    thread = [m for m in thread if m.body] + [message for _, message in messages[:latest]]
    return messages[latest][1].body, thread


def _assignment(conversation: Conversation, created_at: int | None) -> AssignmentEvent | None:
    """The conversation's admin assignee (0 or null: unassigned) and state (closed: closed)."""
    if not {"admin_assignee_id", "state"} & conversation.model_fields_set:
        return None
    at = parse_time(created_at or conversation.updated_at, epoch_seconds=True)
    return assignment_event("intercom", conversation.id, assignee=conversation.admin_assignee_id,
                            status=conversation.state, at=at)  # fmt: skip


def parse(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    topic = body.get("topic")
    if topic == "ping":
        return Delivery(source="intercom", delivery_id=str(body.get("id") or "ping"), topic="ping", ping=True)
    if not isinstance(topic, str) or not topic.startswith(CONVERSATION_TOPIC_PREFIX):
        raise WebhookRejected(422, f"topic: {topic!r} is not a conversation topic ({CONVERSATION_TOPIC_PREFIX}*)")
    notification = validate(Notification, body)
    if notification.id is None:
        raise WebhookRejected(400, "missing notification id (the delivery's idempotency key)")
    conversation = notification.data.item
    assignment = _assignment(conversation, notification.created_at)
    if topic.startswith(ADMIN_TOPIC_PREFIX):
        reason = f"{topic}: an admin's reply, note or action is not a customer message"
        return Delivery(
            source="intercom", delivery_id=notification.id, topic=topic, ignored=reason, assignment=assignment
        )
    source = conversation.source
    body_text, thread = html_to_text(source.body or ""), []
    if topic == USER_REPLIED:
        follow_up = _follow_up(conversation)
        if follow_up is None:
            reason = "data.item.conversation_parts: no part with the customer's text"
            return Delivery(
                source="intercom", delivery_id=notification.id, topic=topic, ignored=reason, assignment=assignment
            )
        body_text, thread = follow_up
    author = source.author
    requester = author if _by_customer(author) else None
    ticket = helpdesk_ticket(
        "intercom",
        conversation.id,
        subject=html_to_text(blank(source.subject) or conversation.title or ""),
        body=body_text,
        created_at=parse_time(conversation.created_at, epoch_seconds=True),
        customer=customer(blank(requester.id) or blank(requester.email), requester.name) if requester else None,
        tags=[tag.name for tag in conversation.tags.tags] if conversation.tags else [],
        # Intercom's priority is "priority"/"not_priority", which names no level: priority_label drops it.
        priority=conversation.priority,
        thread=thread,
    )
    follow_up = topic == USER_REPLIED
    return Delivery(source="intercom", delivery_id=notification.id, topic=topic, ticket=ticket, follow_up=follow_up,
                    assignment=assignment)  # fmt: skip


# --- write-back ---------------------------------------------------------------------------------


class IntercomConfig(HelpdeskConfig):
    url: str = "https://api.intercom.io"
    access_token: SecretStr | None = None
    #: The admin the notes and replies are posted as.
    admin_id: str | None = None
    api_version: str = "2.11"
    #: The workspace id in the inbox's URLs (app.intercom.com/a/apps/<app_id>); links need it.
    app_id: str | None = None
    #: The inbox's host, which differs from the API's (https://app.eu.intercom.com for the EU region).
    app_url: str = "https://app.intercom.com"

    @classmethod
    def from_settings(cls, s: IntercomSettings) -> IntercomConfig:
        return cls(
            url=s.intercom_url,
            access_token=s.intercom_access_token,
            admin_id=s.intercom_admin_id,
            app_id=s.intercom_app_id,
            app_url=s.intercom_app_url,
            assign=s.intercom_assign,
            group_ids=s.intercom_group_ids,
        )


class IntercomClient(HelpdeskClient[IntercomConfig]):
    """`POST /conversations/{id}/reply` as an admin: `message_type` "note" for triage, "comment" for a reply.

    Tags and fields are not written: tagging a conversation takes a tag id, so each tag would first need a
    `POST /tags` to create or find it, two more requests per tag. The service's note already states the
    classification, so a triage action carrying only tags or fields sends nothing to Intercom.
    """

    source: ClassVar[Source] = "intercom"
    config_model = IntercomConfig

    def missing_settings(self) -> list[str]:
        return missing(
            {
                "CASEWORKER_INTERCOM_URL": self.config.url,
                "CASEWORKER_INTERCOM_ACCESS_TOKEN": self.config.access_token,
                "CASEWORKER_INTERCOM_ADMIN_ID": self.config.admin_id,
            }
        )

    def base_url(self) -> str:
        return self.config.url

    def agent_base_url(self) -> str:
        return self.config.app_url if self.config.app_id else ""

    def agent_path(self, external_id: str) -> str:
        return f"/a/apps/{quote(self.config.app_id or '', safe='')}/inbox/inbox/all/conversations/{external_id}"

    def _auth(self) -> tuple[httpx.Auth | None, dict[str, str]]:
        return None, {
            "Authorization": f"Bearer {secret(self.config.access_token)}",
            "Intercom-Version": self.config.api_version,
        }

    def _write(self, action: WriteBackAction, exchange: Exchange) -> None:
        conversation = f"/conversations/{quote(action.external_id, safe='')}"
        # An assignment part sets the conversation's admin_assignee_id (type admin) or team_assignee_id (team).
        for kind, assignee in zip(("admin", "team"), self.config.assignee(action), strict=True):
            if assignee:
                exchange.send("POST", f"{conversation}/parts", {"message_type": "assignment", "type": kind,
                              "admin_id": self.config.admin_id or "", "assignee_id": assignee})  # fmt: skip
        text = action.body if action.kind == "reply" else action.note
        if not (text and text.strip()):
            return
        exchange.send(
            "POST",
            f"{conversation}/reply",
            {
                "message_type": "comment" if action.kind == "reply" else "note",
                "type": "admin",
                "admin_id": self.config.admin_id or "",
                "body": to_html(text),
            },
        )


CONNECTOR = Connector(
    name="intercom",
    settings=IntercomSettings,
    verify=verify,
    parse=parse,
    route=RouteDoc(
        summary="Receive an Intercom conversation notification",
        description=(
            "An Intercom `notification_event` for a `conversation.*` topic. Authenticated with `X-Hub-Signature: "
            "sha1=<hex>` (HMAC-SHA1 of the body with the app's client secret); the notification `id` is the "
            "delivery id. The `ping` topic Intercom sends when the webhook is saved answers 200 `pong`."
        ),
    ),
    client=IntercomClient,
)

"""Intercom: webhook notifications (`notification_event`) for conversation topics, and the `ping` handshake.

Each notification carries its own `id`, stable across Intercom's retries: that is the idempotency key.
`conversation.user.replied` is a follow-up: the customer's newest part becomes the body and the opening
message (and any earlier parts sent along) the thread. `conversation.admin.*` topics (an admin's reply,
note, assignment; this service's own notes and replies are admin parts) carry no customer words: ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge.schemas import Message
from service.webhooks.delivery import Delivery, WebhookRejected
from service.webhooks.normalise import (
    MAX_DELIVERY_ID,
    ExternalId,
    blank,
    customer,
    helpdesk_ticket,
    html_to_text,
    parse_time,
    validate,
)

CONVERSATION_TOPIC_PREFIX = "conversation."
USER_REPLIED = "conversation.user.replied"
ADMIN_TOPIC_PREFIX = "conversation.admin."
# The requester is a contact; an admin or bot authoring the opening part is not the customer.
_CUSTOMER_AUTHORS = frozenset({"user", "lead", "contact"})


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Author(_Payload):
    type: str | None = None
    id: str | None = None
    name: str | None = None
    email: str | None = None


class Source(_Payload):
    subject: str | None = None
    body: str | None = None
    author: Author | None = None


class Tag(_Payload):
    name: str


class TagList(_Payload):
    tags: list[Tag] = Field(default_factory=list)


class Part(_Payload):
    part_type: str | None = None
    body: str | None = None
    author: Author | None = None
    created_at: int | None = None


class PartList(_Payload):
    conversation_parts: list[Part] = Field(default_factory=list)


class Conversation(_Payload):
    id: ExternalId
    title: str | None = None
    created_at: int | None = None
    priority: str | None = None
    source: Source
    tags: TagList | None = None
    conversation_parts: PartList | None = None


class Data(_Payload):
    item: Conversation


class Notification(_Payload):
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


def parse(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    topic = body.get("topic")
    if topic == "ping":
        return Delivery(source="intercom", delivery_id=str(body.get("id") or "ping"), topic="ping", ping=True)
    if not isinstance(topic, str) or not topic.startswith(CONVERSATION_TOPIC_PREFIX):
        raise WebhookRejected(422, f"topic: {topic!r} is not a conversation topic ({CONVERSATION_TOPIC_PREFIX}*)")
    notification = validate(Notification, body)
    if notification.id is None:
        raise WebhookRejected(400, "missing notification id (the delivery's idempotency key)")
    if topic.startswith(ADMIN_TOPIC_PREFIX):
        reason = f"{topic}: an admin's reply, note or action is not a customer message"
        return Delivery(source="intercom", delivery_id=notification.id, topic=topic, ignored=reason)
    conversation = notification.data.item
    source = conversation.source
    body_text, thread = html_to_text(source.body or ""), []
    if topic == USER_REPLIED:
        follow_up = _follow_up(conversation)
        if follow_up is None:
            reason = "data.item.conversation_parts: no part with the customer's text"
            return Delivery(source="intercom", delivery_id=notification.id, topic=topic, ignored=reason)
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
    return Delivery(source="intercom", delivery_id=notification.id, topic=topic, ticket=ticket, follow_up=follow_up)

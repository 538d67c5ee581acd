"""Intercom: webhook notifications (`notification_event`) for conversation topics, and the `ping` handshake.

Each notification carries its own `id`, stable across Intercom's retries: that is the idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.webhooks.delivery import Delivery, WebhookRejected
from service.webhooks.normalise import MAX_DELIVERY_ID, blank, customer, helpdesk_ticket, html_to_text, validate

CONVERSATION_TOPIC_PREFIX = "conversation."
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


class Conversation(_Payload):
    id: str = Field(min_length=1)
    title: str | None = None
    created_at: int | None = None
    priority: str | None = None
    source: Source
    tags: TagList | None = None


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
    source = conversation.source
    author = source.author
    requester = author if author and (author.type or "user") in _CUSTOMER_AUTHORS else None
    ticket = helpdesk_ticket(
        "intercom",
        conversation.id,
        subject=html_to_text(blank(source.subject) or conversation.title or ""),
        body=html_to_text(source.body or ""),
        created_at=conversation.created_at,
        customer=customer(blank(requester.id) or blank(requester.email), requester.name) if requester else None,
        tags=[tag.name for tag in conversation.tags.tags] if conversation.tags else [],
        # Intercom's priority is "priority"/"not_priority", which names no level: priority_label drops it.
        priority=conversation.priority,
    )
    return Delivery(source="intercom", delivery_id=notification.id, topic=topic, ticket=ticket)

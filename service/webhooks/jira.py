"""Jira Cloud: issue webhooks (`jira:issue_created`, `jira:issue_updated`) and `comment_created`.

The idempotency key is the `X-Atlassian-Webhook-Identifier` header, unchanged across Jira's retries.
Descriptions and comments arrive as plain text (REST v2 style) or as an Atlassian Document Format tree
(v3); both become plain text. A public comment by the customer (a Service Management portal customer, or
the reporter) is a follow-up; internal comments and comments by agents or apps (ours included) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from knowledge.schemas import Message
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

DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"
ISSUE_EVENTS = ("jira:issue_created", "jira:issue_updated")
COMMENT_CREATED = "comment_created"
HANDLED_EVENTS = (*ISSUE_EVENTS, COMMENT_CREATED)
#: `accountType` of a Jira Service Management portal customer (agents and apps are "atlassian" and "app").
CUSTOMER_ACCOUNT = "customer"

# ADF nodes after which a reader sees a line break.
_ADF_BLOCKS = frozenset(
    {"paragraph", "heading", "listItem", "blockquote", "codeBlock", "panel", "rule", "tableRow", "mediaGroup"}
)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class NamedValue(_Payload):
    name: str | None = None


class User(_Payload):
    account_id: str | None = Field(default=None, alias="accountId")
    display_name: str | None = Field(default=None, alias="displayName")
    email_address: str | None = Field(default=None, alias="emailAddress")
    account_type: str | None = Field(default=None, alias="accountType")


class Fields(_Payload):
    summary: str
    description: str | dict[str, Any] | None = None
    priority: NamedValue | None = None
    labels: list[str] | None = None
    reporter: User | None = None
    created: str | None = None


class Issue(_Payload):
    id: str | None = None
    key: ExternalId
    fields: Fields


class Comment(_Payload):
    body: str | dict[str, Any] = ""
    author: User | None = None
    jsd_public: bool | None = Field(default=None, alias="jsdPublic")


class IssueEvent(_Payload):
    timestamp: int | None = None
    webhook_event: str = Field(alias="webhookEvent")
    issue: Issue
    comment: Comment | None = None


def adf_to_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format tree: text nodes, mentions, emoji and links, block per line."""
    parts: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, list):
            for child in item:
                walk(child)
            return
        if not isinstance(item, dict):
            return
        kind = item.get("type")
        attrs = item.get("attrs") if isinstance(item.get("attrs"), dict) else {}
        if kind == "text":
            parts.append(str(item.get("text", "")))
        elif kind == "hardBreak":
            parts.append("\n")
        elif kind in ("mention", "emoji"):
            parts.append(str(attrs.get("text") or attrs.get("shortName") or ""))
        elif kind in ("inlineCard", "blockCard"):
            parts.append(str(attrs.get("url") or ""))
        walk(item.get("content"))
        if kind in _ADF_BLOCKS:
            parts.append("\n")

    walk(node)
    lines = (line.rstrip() for line in "".join(parts).splitlines())
    return "\n".join(line for line in lines if line.strip())


def _text(value: str | dict[str, Any] | None) -> str:
    return adf_to_text(value) if isinstance(value, dict) else (value or "")


def _not_from_the_customer(comment: Comment, reporter: User) -> str | None:
    """Why a comment is no new customer message, or None when it is one."""
    if comment.jsd_public is False:
        return "an internal comment is not a customer message"
    author = comment.author or User()
    by_reporter = author.account_id is not None and author.account_id == reporter.account_id
    if (author.account_type or "").lower() != CUSTOMER_ACCOUNT and not by_reporter:
        return "a comment by an agent or an app (this service's among them) is not a customer message"
    if not _text(comment.body).strip():
        return "the comment has no text"
    return None


def parse(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    event_name = body.get("webhookEvent")
    if event_name not in HANDLED_EVENTS:
        accepted = ", ".join(HANDLED_EVENTS)
        raise WebhookRejected(422, f"webhookEvent: {event_name!r} is not handled (accepted: {accepted})")
    key = delivery_key(headers, DELIVERY_HEADER)
    event = validate(IssueEvent, body)
    issue = event.issue
    fields = issue.fields
    reporter = fields.reporter or User()
    description = _text(fields.description)
    message = ""
    if event_name == COMMENT_CREATED:
        if event.comment is None:
            raise WebhookRejected(422, "comment: Field required")
        ignored = _not_from_the_customer(event.comment, reporter)
        if ignored is not None:
            return Delivery(source="jira", delivery_id=key, topic=COMMENT_CREATED, ignored=ignored)
        message = _text(event.comment.body).strip()
        message = "" if same_text(message, description) else message
    ticket = helpdesk_ticket(
        "jira",
        issue.key,
        subject=fields.summary,
        body=message or description,
        created_at=parse_time(fields.created),
        customer=customer(blank(reporter.account_id) or blank(reporter.email_address), reporter.display_name),
        tags=fields.labels or [],
        priority=fields.priority.name if fields.priority else None,
        thread=[Message(author="customer", body=description)] if message and description.strip() else [],
    )
    return Delivery(source="jira", delivery_id=key, topic=str(event_name), ticket=ticket, follow_up=bool(message))

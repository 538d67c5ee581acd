"""Jira Cloud: issue webhooks (`jira:issue_created`, `jira:issue_updated`).

The idempotency key is the `X-Atlassian-Webhook-Identifier` header, unchanged across Jira's retries.
Descriptions arrive as plain text (REST v2 style) or as an Atlassian Document Format tree (v3); both
become plain text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.webhooks.delivery import Delivery, WebhookRejected
from service.webhooks.normalise import ExternalId, blank, customer, delivery_key, helpdesk_ticket, parse_time, validate

DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"
ISSUE_EVENTS = ("jira:issue_created", "jira:issue_updated")

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


class IssueEvent(_Payload):
    timestamp: int | None = None
    webhook_event: str = Field(alias="webhookEvent")
    issue: Issue


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


def parse(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    event_name = body.get("webhookEvent")
    if event_name not in ISSUE_EVENTS:
        raise WebhookRejected(422, f"webhookEvent: {event_name!r} is not handled (accepted: {', '.join(ISSUE_EVENTS)})")
    key = delivery_key(headers, DELIVERY_HEADER)
    issue = validate(IssueEvent, body).issue
    fields = issue.fields
    description = fields.description
    reporter = fields.reporter or User()
    ticket = helpdesk_ticket(
        "jira",
        issue.key,
        subject=fields.summary,
        body=adf_to_text(description) if isinstance(description, dict) else (description or ""),
        created_at=parse_time(fields.created),
        customer=customer(blank(reporter.account_id) or blank(reporter.email_address), reporter.display_name),
        tags=fields.labels or [],
        priority=fields.priority.name if fields.priority else None,
    )
    return Delivery(source="jira", delivery_id=key, topic=str(event_name), ticket=ticket)

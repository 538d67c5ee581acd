"""Jira, one connector: issue webhooks in, labels and Service Management comments out.

Inbound: Jira Cloud admin webhooks with a secret (`jira:issue_created`, `jira:issue_updated`,
`comment_created`), signed with `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`; the body's
`timestamp` bounds replays. The idempotency key is the `X-Atlassian-Webhook-Identifier` header, unchanged
across Jira's retries. Descriptions and comments arrive as plain text (REST v2 style) or as an Atlassian
Document Format tree (v3); both become plain text. A public comment by the customer (a Service Management
portal customer, or the reporter) is a follow-up; internal comments and comments by agents or apps (ours
included) are ignored.

Outbound: labels on the issue, then a comment on the customer request (`JiraClient`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field, SecretStr

from knowledge.assignments import AssignmentEvent
from knowledge.schemas import Message
from tools.helpdesk.actions import Source, WriteBackAction
from tools.helpdesk.base import HelpdeskClient, HelpdeskConfig, missing, secret
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
from tools.helpdesk.render import to_plain
from tools.helpdesk.signing import HUB_SIGNATURE, hub_signature, payload_number, verify_hub_signature


class JiraSettings(BaseModel):
    """Its settings keys (CASEWORKER_JIRA_*)."""

    #: The admin webhook's secret; unset: no route (404).
    jira_secret: SecretStr | None = None
    #: Live write-back; off: dry-run (logged to the audit, nothing sent).
    jira_writeback: bool = False
    jira_url: str | None = None
    jira_email: str | None = None
    jira_api_token: SecretStr | None = None
    #: Write the routing block's assignee (the issue's, by accountId; Jira has no group to set); opt-in.
    jira_assign: bool = False
    #: The issue link type joining an accepted incident's issues (Jira Service Management sites may prefer
    #: their "Problem/Incident" type).
    jira_incident_link_type: str = Field(default="Relates", min_length=1, max_length=100)


def verify(
    secret: str, body: bytes, headers: Mapping[str, str], *, settings: Any = None, now: float, tolerance_s: float
) -> None:
    timestamp_ms = payload_number(body, "timestamp")
    sent_at = timestamp_ms / 1000 if timestamp_ms is not None else None
    verify_hub_signature(secret, body, headers, "sha256", sent_at=sent_at, now=now, tolerance_s=tolerance_s,
                         what="event timestamp")  # fmt: skip


def sign(secret: str, body: bytes) -> dict[str, str]:
    return {HUB_SIGNATURE: hub_signature(secret, body, "sha256")}


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


class NamedValue(Payload):
    name: str | None = None


class User(Payload):
    account_id: str | None = Field(default=None, alias="accountId")
    display_name: str | None = Field(default=None, alias="displayName")
    email_address: str | None = Field(default=None, alias="emailAddress")
    account_type: str | None = Field(default=None, alias="accountType")


class StatusCategory(Payload):
    key: str | None = None


class Status(Payload):
    name: str | None = None
    status_category: StatusCategory | None = Field(default=None, alias="statusCategory")


class Fields(Payload):
    summary: str
    assignee: User | None = None
    status: Status | None = None
    description: str | dict[str, Any] | None = None
    priority: NamedValue | None = None
    labels: list[str] | None = None
    reporter: User | None = None
    created: str | None = None


class Issue(Payload):
    id: str | None = None
    key: ExternalId
    fields: Fields


class Comment(Payload):
    body: str | dict[str, Any] = ""
    author: User | None = None
    jsd_public: bool | None = Field(default=None, alias="jsdPublic")


class IssueEvent(Payload):
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


def _assignment(issue: Issue, timestamp_ms: int | None) -> AssignmentEvent | None:
    """The issue's assignee (accountId; null: unassigned) and status category (done: closed)."""
    fields = issue.fields
    if "assignee" not in fields.model_fields_set and fields.status is None:
        return None
    status = fields.status
    category = status.status_category.key if status and status.status_category else None
    at = parse_time(timestamp_ms / 1000, epoch_seconds=True) if timestamp_ms is not None else None
    return assignment_event("jira", issue.key, assignee=fields.assignee.account_id if fields.assignee else None,
                            status=category or (status.name if status else None), at=at)  # fmt: skip


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
    assignment = _assignment(issue, event.timestamp)
    message = ""
    if event_name == COMMENT_CREATED:
        if event.comment is None:
            raise WebhookRejected(422, "comment: Field required")
        ignored = _not_from_the_customer(event.comment, reporter)
        if ignored is not None:
            return Delivery(
                source="jira", delivery_id=key, topic=COMMENT_CREATED, ignored=ignored, assignment=assignment
            )
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
    return Delivery(source="jira", delivery_id=key, topic=str(event_name), ticket=ticket, follow_up=bool(message),
                    assignment=assignment)  # fmt: skip


# --- write-back ---------------------------------------------------------------------------------


class JiraConfig(HelpdeskConfig):
    #: e.g. https://acme.atlassian.net
    url: str | None = None
    email: str | None = None
    api_token: SecretStr | None = None
    incident_link_type: str = "Relates"

    @classmethod
    def from_settings(cls, s: JiraSettings) -> JiraConfig:
        return cls(url=s.jira_url, email=s.jira_email, api_token=s.jira_api_token, assign=s.jira_assign,
                   incident_link_type=s.jira_incident_link_type)  # fmt: skip


class JiraClient(HelpdeskClient[JiraConfig]):
    """Labels through `PUT /rest/api/3/issue/{key}` with `update.labels` "add" operations, which keep the
    issue's other labels and are idempotent, so they go first; then `POST
    /rest/servicedeskapi/request/{key}/comment`, internal (`public: false`) for triage, public for a reply.
    That endpoint takes the comment as a plain string (not ADF), so the text goes as it is.
    Fields are not written: Jira custom field ids and option shapes differ per site; tags carry them.

    An incident link (kind=link): the incident's label on the issue, then, for every member but the anchor,
    `POST /rest/api/3/issueLink` of `incident_link_type` from the member (inward) to the anchor (outward),
    unless `GET /rest/api/3/issue/{key}?fields=issuelinks` shows the two linked already (a POST is no
    idempotent update, so a retried job looks first).
    """

    source: ClassVar[Source] = "jira"
    config_model = JiraConfig
    links_incidents: ClassVar[bool] = True

    def missing_settings(self) -> list[str]:
        return missing(
            {
                "CASEWORKER_JIRA_URL": self.config.url,
                "CASEWORKER_JIRA_EMAIL": self.config.email,
                "CASEWORKER_JIRA_API_TOKEN": self.config.api_token,
            }
        )

    def base_url(self) -> str:
        return self.config.url or ""

    def agent_path(self, external_id: str) -> str:
        return f"/browse/{external_id}"

    def _auth(self) -> tuple[httpx.Auth | None, dict[str, str]]:
        return httpx.BasicAuth(self.config.email or "", secret(self.config.api_token)), {}

    def _write(self, action: WriteBackAction, exchange: Exchange) -> None:
        key = quote(action.external_id, safe="")
        if action.tags:
            exchange.send(
                "PUT", f"/rest/api/3/issue/{key}", {"update": {"labels": [{"add": tag} for tag in action.tags]}}
            )
        assignee, _ = self.config.assignee(action)
        if assignee:
            exchange.send("PUT", f"/rest/api/3/issue/{key}/assignee", {"accountId": assignee})
        text = action.body if action.kind == "reply" else action.note
        if text and text.strip():
            exchange.send(
                "POST",
                f"/rest/servicedeskapi/request/{key}/comment",
                {"body": to_plain(text), "public": action.kind == "reply"},
            )
        anchor = action.link.anchor_external_id if action.link else None
        if anchor is not None and not self._linked(key, anchor, exchange):
            body = {"type": {"name": self.config.incident_link_type}, "inwardIssue": {"key": action.external_id},
                    "outwardIssue": {"key": anchor}}  # fmt: skip
            exchange.send("POST", "/rest/api/3/issueLink", body)

    @staticmethod
    def _linked(key: str, anchor: str, exchange: Exchange) -> bool:
        """Whether the issue links to `anchor` already (False in dry-run: nothing was read)."""
        response = exchange.send("GET", f"/rest/api/3/issue/{key}?fields=issuelinks")
        if response is None:
            return False
        try:
            links = response.json().get("fields", {}).get("issuelinks") or []
        except (ValueError, AttributeError):
            return False
        keys = {(link.get(side) or {}).get("key") for link in links if isinstance(link, dict)
                for side in ("inwardIssue", "outwardIssue")}  # fmt: skip
        return anchor in keys


CONNECTOR = Connector(
    name="jira",
    settings=JiraSettings,
    verify=verify,
    parse=parse,
    route=RouteDoc(
        summary="Receive a Jira issue webhook",
        description=(
            "A Jira Cloud admin webhook with a secret, for `jira:issue_created` / `jira:issue_updated`. "
            "Authenticated with `X-Hub-Signature: sha256=<hex>` (HMAC-SHA256 of the body); "
            "`X-Atlassian-Webhook-Identifier` is the delivery id."
        ),
    ),
    client=JiraClient,
)

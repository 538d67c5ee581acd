"""Signed webhook deliveries for every source, at the current time, and an in-process service to post them to.

`payload(source, ticket_id, text)` is one valid delivery per source with the customer's text where that
source carries it; `PATHS` says where its text, creation date and ticket id live, so a test can plant
hostile values in the same place for every source.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from config.components import Components
from config.settings import Settings
from service.app import create_app
from service.runtime import ServiceRuntime
from tests.conftest import SMALL_HISTORY, TAXONOMY, history_tickets, kb_articles
from tools.helpdesk.generic import sign as sign_generic
from tools.helpdesk.intercom import sign as sign_intercom
from tools.helpdesk.jira import sign as sign_jira
from tools.helpdesk.zendesk import sign as sign_zendesk

SECRET = "hostile-secret"
TOKEN = "review-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SOURCES = ("zendesk", "intercom", "jira", "freshdesk", "generic")

#: source -> (text path, created_at path, ticket id path), dotted.
PATHS: dict[str, tuple[str, str, str]] = {
    "zendesk": ("detail.description", "detail.created_at", "detail.id"),
    "intercom": ("data.item.source.body", "data.item.created_at", "data.item.id"),
    "jira": ("issue.fields.description", "issue.fields.created", "issue.key"),
    "freshdesk": ("freshdesk_webhook.ticket_description", "freshdesk_webhook.ticket_created_at",
                  "freshdesk_webhook.ticket_id"),
    "generic": ("body", "created_at", "id"),
}  # fmt: skip


def payload(source: str, ticket_id: str, text: str, subject: str = "Password reset") -> dict[str, Any]:
    """A valid delivery of one ticket; `ticket_id` also varies the body so Freshdesk's hash key differs."""
    if source == "zendesk":
        return {"type": "zen:event-type:ticket.created", "id": f"ev-{ticket_id}",
                "detail": {"id": ticket_id, "subject": subject, "description": text, "requester_id": "zd-1",
                           "created_at": "2026-11-29T06:00:00Z", "tags": ["web"]}}  # fmt: skip
    if source == "intercom":
        return {"type": "notification_event", "id": f"n-{ticket_id}-{time.time_ns()}",
                "topic": "conversation.user.created", "created_at": int(time.time()),
                "data": {"item": {"id": ticket_id, "created_at": 1_795_000_000,
                                  "source": {"subject": subject, "body": text,
                                             "author": {"type": "user", "id": "ic-1"}}}}}  # fmt: skip
    if source == "jira":
        return {"timestamp": int(time.time() * 1000), "webhookEvent": "jira:issue_created",
                "issue": {"key": ticket_id, "fields": {"summary": subject, "description": text,
                                                       "created": "2026-11-29T06:00:00.000+0000"}}}  # fmt: skip
    if source == "freshdesk":
        return {"freshdesk_webhook": {"ticket_id": ticket_id, "ticket_subject": subject, "ticket_description": text,
                                      "ticket_created_at": "2026-11-29T06:00:00Z"}}  # fmt: skip
    return {"id": ticket_id, "subject": subject, "body": text, "created_at": "2026-11-29T06:00:00Z"}


def put(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    node[last] = value
    return document


def headers(source: str, raw: bytes, delivery: str, secret: str = SECRET) -> dict[str, str]:
    now = time.time()
    builders = {
        "zendesk": lambda: {**sign_zendesk(secret, raw, now), "X-Zendesk-Webhook-Invocation-Id": delivery},
        "intercom": lambda: sign_intercom(secret, raw),
        "jira": lambda: {**sign_jira(secret, raw), "X-Atlassian-Webhook-Identifier": delivery},
        "freshdesk": lambda: {"X-Caseworker-Secret": secret},
        "generic": lambda: {**sign_generic(secret, raw, now), "X-Caseworker-Delivery": delivery},
    }
    return {**builders[source](), "Content-Type": "application/json"}


def post(client: TestClient, source: str, body: dict[str, Any] | bytes, delivery: str | None = None) -> Any:
    """POST a signed delivery (a fresh delivery id unless given); a dict is serialised with ASCII escapes, so a
    lone surrogate travels as `\\ud800`."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    key = delivery or f"d-{uuid.uuid4().hex}"
    return client.post(f"/webhooks/{source}", content=raw, headers=headers(source, raw, key))


def service_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {f"{name}_secret": SECRET for name in ("zendesk", "intercom", "jira", "freshdesk")}
    values["review_undo_s"] = 0  # decisions apply at once unless a test is about the undo window
    return Settings(data_dir=data_dir, webhook_secret=SECRET, api_token=TOKEN, **{**values, **overrides})


def trained_data_dir(root: Path) -> Path:
    """A data dir with the shared test history, KB and taxonomy, and a trained local model."""
    ws = Components(Settings(data_dir=root / "data", **SMALL_HISTORY))
    taxonomy = root / "taxonomy.toml"
    taxonomy.write_text(TAXONOMY)
    ws.install_taxonomy(taxonomy)
    ws.ingest.tickets(history_tickets())
    ws.ingest.kb(kb_articles())
    ws.train()
    ws.history.close()
    return root / "data"


@contextmanager
def service(data_dir: Path, **overrides: Any) -> Iterator[TestClient]:
    """The real app, no worker threads (tests drain the queue in-process); a server error answers 500."""
    app = create_app(service_settings(data_dir, **overrides), workers=0)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def runtime_of(client: TestClient) -> ServiceRuntime:
    return client.app.state.runtime  # type: ignore[attr-defined]


def job_count(client: TestClient) -> int:
    return sum(runtime_of(client).queue.depth().values())

"""Outbound notices of emerging incidents: when a proposal opens and when a lead accepts it, one `notify` job
per configured URL, so the durable queue retries a receiver that is down (5xx, 429, timeouts) with backoff
and records every attempt in the audit. Two bodies:
- Slack-compatible (`{"text": …}`) for CASEWORKER_INCIDENT_SLACK_URLS;
- generic JSON (`{"event": "incident.opened", "incident": {…}}`) for CASEWORKER_INCIDENT_WEBHOOK_URLS, signed
  exactly like our generic inbound webhook (tools/helpdesk/generic.py): `X-Caseworker-Signature: sha256=<hex
  HMAC-SHA256(secret, f"{timestamp}." + body)>` and `X-Caseworker-Timestamp`, plus `X-Caseworker-Delivery`
  (the same on every retry, so a receiver can drop repeats).
The audit names the URL's host only: a Slack webhook URL is itself a secret.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from knowledge.incidents import Incident
from knowledge.jobs import NewJob
from service.queue import JobQueue
from tools.helpdesk.generic import DELIVERY_HEADER, sign

if TYPE_CHECKING:
    from config.components import Components

NoticeEvent = Literal["opened", "accepted"]


class Notice(BaseModel):
    url: str
    format: Literal["slack", "generic"]
    event: NoticeEvent
    incident_id: str
    delivery_id: str
    body: dict[str, Any]


class NoticeFailed(RuntimeError):
    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def slack_text(incident: Incident, event: NoticeEvent) -> str:
    s = incident.summary()
    verb = "Emerging incident" if event == "opened" else "Incident accepted"
    return (f"{verb} ({s['severity']}) for {s['tenant']}: {s['label']}. {s['members']} tickets, "
            f"{s['growth_per_hour']}/h, {s['customers']} customers (MRR {s['mrr']}). Id {s['id']}.")  # fmt: skip


def notices(components: Components, incident: Incident, event: NoticeEvent) -> list[Notice]:
    s = components.settings
    base = f"{incident.id}:{event}"
    slack = {"text": slack_text(incident, event)}
    out = [Notice(url=url, format="slack", event=event, incident_id=incident.id, delivery_id=f"{base}:slack:{i}",
                  body=slack) for i, url in enumerate(s.incident_slack_urls)]  # fmt: skip
    body = {"event": f"incident.{event}", "incident": incident.summary()}
    out += [Notice(url=url, format="generic", event=event, incident_id=incident.id, delivery_id=f"{base}:generic:{i}",
                   body=body) for i, url in enumerate(s.incident_webhook_urls)]  # fmt: skip
    return out


def notify_incident(components: Components, incident: Incident, event: NoticeEvent) -> int:
    """Queue one notice job per configured URL (once per incident, event and URL); how many were new."""
    s = components.settings
    queue = JobQueue(components.history, max_attempts=s.job_max_attempts, retry_base_s=s.job_retry_base_s)
    created = 0
    for notice in notices(components, incident, event):
        job = NewJob(kind="notify", source="insights", delivery_id=notice.delivery_id, tenant=incident.tenant,
                     ticket_id=None, payload=notice.model_dump_json())  # fmt: skip
        created += queue.enqueue(job)[1]
    return created


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def post_json(url: str, body: dict[str, Any], delivery_id: str, secret: str | None, timeout_s: float) -> int:
    """POST `body` once, signed with `secret` when given; the status, NoticeFailed (retryable or not) otherwise."""
    raw = json.dumps(body, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery_id}
    if secret is not None:
        headers.update(sign(secret, raw, time.time()))
    try:
        response = httpx.post(url, content=raw, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise NoticeFailed(f"{host_of(url)}: {type(exc).__name__}", retryable=True) from None
    if response.status_code >= 400:
        retryable = response.status_code >= 500 or response.status_code in (408, 429)
        raise NoticeFailed(f"{host_of(url)} answered HTTP {response.status_code}", retryable=retryable)
    return response.status_code


def send_notice(notice: Notice, secret: str | None, timeout_s: float) -> dict[str, Any]:
    """POST it once; the audit detail on success, NoticeFailed (retryable or not) otherwise."""
    if notice.format == "generic" and not secret:
        raise NoticeFailed("generic incident notices need CASEWORKER_INCIDENT_WEBHOOK_SECRET", retryable=False)
    detail = {"incident_id": notice.incident_id, "event": notice.event, "format": notice.format,
              "host": host_of(notice.url)}  # fmt: skip
    signing = secret if notice.format == "generic" else None
    status = post_json(notice.url, notice.body, notice.delivery_id, signing, timeout_s)
    return {**detail, "status": status}

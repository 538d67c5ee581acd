"""The ranked accounts-at-risk list (insights/outreach.py), sent to a CRM as signed generic JSON.

One `notify` job (source `crm`) per URL in CASEWORKER_CRM_WEBHOOK_URLS, so the durable queue retries a
receiver that is down with backoff and the audit records each attempt (`accounts_notified`, the URL's host
only). The body, fixed when queued so every retry sends the same list:
`{"event": "accounts.at_risk", "tenant": …, "generated_at": …, "days": …, "accounts": [AccountRisk…]}`,
each account with its reasons and ticket ids. Signed exactly like the incident notices and our generic
inbound webhook (`X-Caseworker-Signature`, `X-Caseworker-Timestamp`), `X-Caseworker-Delivery` the same on
every retry.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from config.components import Components
from insights.outreach import AccountRisk
from knowledge.jobs import NewJob
from service.incident_notices import NoticeFailed, host_of, post_json
from service.queue import JobQueue

SOURCE = "crm"


class AccountsNotice(BaseModel):
    url: str
    tenant: str
    delivery_id: str
    body: dict[str, Any]


class NoCrmWebhook(ValueError):
    """No CASEWORKER_CRM_WEBHOOK_URLS: there is nowhere to send the list."""


def crm_secret(components: Components) -> str | None:
    s = components.settings
    secret = s.crm_webhook_secret or s.incident_webhook_secret or s.webhook_secret
    return secret.get_secret_value() if secret else None


def notify_accounts(components: Components, tenant: str, accounts: list[AccountRisk], days: int,
                    at: datetime) -> int:  # fmt: skip
    """Queue the list for every CRM URL; how many jobs were queued (NoCrmWebhook when none is set)."""
    s = components.settings
    if not s.crm_webhook_urls:
        raise NoCrmWebhook("no CRM webhook is configured: set CASEWORKER_CRM_WEBHOOK_URLS (a JSON list)")
    if crm_secret(components) is None:
        raise NoCrmWebhook("the CRM webhook needs a secret: set CASEWORKER_CRM_WEBHOOK_SECRET")
    body = {"event": "accounts.at_risk", "tenant": tenant, "generated_at": at.isoformat(), "days": days,
            "accounts": [a.model_dump(mode="json") for a in accounts]}  # fmt: skip
    queue = JobQueue(components.history, max_attempts=s.job_max_attempts, retry_base_s=s.job_retry_base_s)
    batch = uuid.uuid4().hex[:12]  # each request sends the list as it is now: a new delivery, never a repeat
    created = 0
    for i, url in enumerate(s.crm_webhook_urls):
        notice = AccountsNotice(url=url, tenant=tenant, delivery_id=f"accounts:{tenant}:{batch}:{i}", body=body)
        job = NewJob(kind="notify", source=SOURCE, delivery_id=notice.delivery_id, tenant=tenant, ticket_id=None,
                     payload=notice.model_dump_json())  # fmt: skip
        created += queue.enqueue(job)[1]
    return created


def send_accounts_notice(notice: AccountsNotice, secret: str | None, timeout_s: float) -> dict[str, Any]:
    """POST it once, signed; the audit detail, or NoticeFailed (retryable or not)."""
    if not secret:
        raise NoticeFailed("the CRM webhook needs CASEWORKER_CRM_WEBHOOK_SECRET", retryable=False)
    status = post_json(notice.url, notice.body, notice.delivery_id, secret, timeout_s)
    return {"tenant": notice.tenant, "accounts": len(notice.body.get("accounts", [])), "host": host_of(notice.url),
            "status": status}  # fmt: skip

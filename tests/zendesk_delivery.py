"""A signed Zendesk trigger delivery (the README's template, filled in), for tests that post webhooks."""

from __future__ import annotations

import json
import time

from tools.helpdesk.zendesk import sign as sign_zendesk


def signed_zendesk_trigger(
    secret: str, ticket_id: str, subject: str, body: str, invocation: str
) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers Zendesk sends for one trigger invocation."""
    payload = {"ticket": {"id": ticket_id, "subject": subject, "description": body, "priority": "normal",
                          "tags": "web", "requester": {"id": "c-9", "name": "Ada", "email": "ada@example.com"},
                          "created_at": "2026-11-29T06:00:00Z"}}  # fmt: skip
    raw = json.dumps(payload).encode()
    headers = {**sign_zendesk(secret, raw, time.time()), "Content-Type": "application/json",
               "X-Zendesk-Webhook-Invocation-Id": invocation}  # fmt: skip
    return raw, headers

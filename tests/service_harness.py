"""The service in-process for API tests: the real app over a trained data dir, write-back live to a fake
Zendesk on 127.0.0.1, no worker threads (tests drain the queue themselves), and a clock tests can move."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from config.components import Components
from config.settings import Settings
from service.app import create_app
from service.runtime import ServiceRuntime
from service.worker import Worker
from tests.fake_helpdesk import Call, FakeHelpdesk
from tests.zendesk_delivery import signed_zendesk_trigger

SECRET = "zendesk-secret"
TOKEN = "review-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Mixes two intents, so the policy wants a human: draft_for_review.
MIXED = ("Invoice and login", "I need the invoice but I can't log in, the password reset email is missing.")
# A whole-company outage: the policy escalates it as a P0 incident.
OUTAGE = ("Site is down", "Nobody in our company can load the dashboard, 502 errors everywhere since 9am.")


class Clock:
    """The queue's clock, moved ahead by hand: undo windows and not-before times pass without sleeping.
    It never falls behind the wall clock, which stamps the jobs the graph queues."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.frozen: float | None = None

    def __call__(self) -> float:
        return (self.frozen if self.frozen is not None else time.time()) + self.offset

    def freeze(self) -> None:
        """Stop the wall clock's part, so "just inside the window" stays inside however slow the machine.
        Whole seconds: a time that goes through a datetime (microseconds) and back must compare equal."""
        self.frozen = float(int(time.time()))

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@contextmanager
def service_client(workspace: Components, helpdesk: FakeHelpdesk, **overrides: Any) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=workspace.settings.data_dir,
        zendesk_secret=SECRET,
        api_token=TOKEN,
        zendesk_writeback=True,
        zendesk_url=helpdesk.url,
        zendesk_email="bot@example.com",
        zendesk_api_token="zd-token",
        **overrides,
    )
    workspace.history.close()
    with TestClient(create_app(settings, workers=0)) as client:
        yield client


def runtime_of(client: TestClient) -> ServiceRuntime:
    return client.app.state.runtime  # type: ignore[attr-defined]


def drain(client: TestClient) -> int:
    return Worker(runtime_of(client), threading.Event()).run_until_idle()


def post_zendesk(client: TestClient, ticket_id: str, subject: str, body: str, invocation: str) -> dict[str, Any]:
    raw, headers = signed_zendesk_trigger(SECRET, ticket_id, subject, body, invocation)
    response = client.post("/webhooks/zendesk", content=raw, headers=headers)
    assert response.status_code in (200, 202), response.text
    return response.json()


def is_public_reply(call: Call) -> bool:
    comment = ((call.json or {}).get("ticket") or {}).get("comment") or {}
    return call.method == "PUT" and comment.get("public") is True

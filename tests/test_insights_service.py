"""Insights inside the service: signed webhook tickets run through the real app and worker feed the surge
detector; a burst of similar tickets opens one incident for its tenant and none for another tenant."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from knowledge.incidents import Observation
from service.surge_feed import SurgeFeed
from service.worker import Worker
from tests.signed_webhooks import post, runtime_of, service, trained_data_dir

BURST = [
    "The checkout page shows error 502 when I pay by card",
    "Card payment at checkout fails with a 502 error",
    "Checkout gives me a 502 error every time I try to pay with my card",
    "Paying by card: checkout page error 502",
    "Error 502 on the checkout page when paying with a credit card",
    "I get a 502 error at checkout when I enter my card",
]
VARIED = [
    "How do I export my invoices as PDF?",
    "Please add two seats to our plan",
    "The mobile app crashes when I open settings",
    "Can I change the email address on my account?",
    "Where can I find the API rate limits?",
    "Our SSO login redirects to a blank page",
]


BACKGROUND = [
    *VARIED,
    "Refund for a double charge",
    "The dashboard is slow today",
    "Reset my two-factor device",
    "Invite a colleague to the workspace",
    "Change our billing address",
    "Delete my old projects",
]


def background(client: TestClient, tenant: str, days: int = 8) -> None:
    """A week of ordinary traffic (one varied ticket an hour) before now, as the service would have seen it."""
    components = runtime_of(client).components
    vectors = components.embedder.embed(BACKGROUND)
    now = datetime.now(UTC)
    for hour in range(days * 24, 0, -1):
        i = hour % len(BACKGROUND)
        components.incidents.observe(Observation(tenant=tenant, ticket_id=f"bg-{hour}", at=now - timedelta(hours=hour),
                                                 vector=vectors[i].tolist(), text=BACKGROUND[i]))  # fmt: skip


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with service(trained_data_dir(tmp_path_factory.mktemp("insights"))) as test_client:
        for tenant in ("acme", "globex"):
            background(test_client, tenant)
        yield test_client


def drain(client: TestClient) -> int:
    return Worker(runtime_of(client), threading.Event()).run_until_idle()


def ticket(tenant: str, ticket_id: str, text: str, customer: str) -> dict[str, object]:
    return {"id": ticket_id, "tenant": tenant, "subject": text[:40], "body": text,
            "customer": {"id": customer, "mrr": 500.0}}  # fmt: skip


def send(client: TestClient, tenant: str, texts: list[str], prefix: str) -> None:
    for i, text in enumerate(texts):
        response = post(client, "generic", ticket(tenant, f"{prefix}{i}", text, f"{prefix}-cust{i % 3}"))
        assert response.status_code == 202, response.text


def test_a_burst_of_similar_webhook_tickets_opens_one_incident_for_its_tenant_only(client: TestClient) -> None:
    send(client, "acme", BURST, "burst")
    send(client, "globex", VARIED, "varied")
    assert drain(client) >= len(BURST) + len(VARIED)
    incidents = runtime_of(client).components.incidents
    [incident] = incidents.list("acme")
    assert incident.state == "open" and len(incident.members) >= 4
    assert {m.ticket_id for m in incident.members} <= {f"burst{i}" for i in range(len(BURST))}
    assert "checkout" in incident.label or "502" in incident.label or "card" in incident.label
    assert incident.customers and sum(incident.customers.values()) == 1500.0
    assert incidents.list("globex") == []


def test_an_insights_failure_never_fails_the_triage(client: TestClient) -> None:
    runtime = runtime_of(client)

    class Broken:
        def observe(self, obs: object) -> None:
            raise RuntimeError("detector down")

    runtime.__dict__["surge"] = SurgeFeed(Broken())  # type: ignore[arg-type]
    try:
        send(client, "initech", BURST[:2], "broken")
        drain(client)
        done = [j for j in runtime.queue.list(kind="triage", limit=500) if j.tenant == "initech"]
        assert len(done) == 2 and {j.state for j in done} == {"done"}
    finally:
        del runtime.__dict__["surge"]

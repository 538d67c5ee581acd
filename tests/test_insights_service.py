"""Insights inside the service: signed webhook tickets run through the real app and worker feed the surge
detector; a burst of similar tickets opens one incident for its tenant and none for another tenant; the
opening (and an acceptance) is announced to a local receiver on 127.0.0.1, Slack-style and signed generic
JSON, a 500 retried by the job queue; the insights API is tenant-scoped."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from knowledge.incidents import Observation
from service.surge_feed import SurgeFeed
from service.worker import Worker
from tests.signed_webhooks import AUTH, post, runtime_of, service, trained_data_dir
from tools.helpdesk.generic import verify

NOTICE_SECRET = "notice-secret"


class Receiver:
    """A webhook receiver on 127.0.0.1 that records each POST; its first generic POST answers 500."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                failing = self.path == "/generic" and not any(c[0] == "/generic" for c in receiver.calls)
                status = 500 if failing else 200
                receiver.calls.append((self.path, dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[TestClient]:
    urls = {"incident_slack_urls": [f"{receiver.url}/slack"], "incident_webhook_urls": [f"{receiver.url}/generic"],
            "incident_webhook_secret": NOTICE_SECRET, "job_retry_base_s": 0}  # fmt: skip
    with service(trained_data_dir(tmp_path_factory.mktemp("insights")), **urls) as test_client:
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


def test_the_opening_is_announced_signed_and_a_500_is_retried(client: TestClient, receiver: Receiver) -> None:
    drain(client)
    [incident] = runtime_of(client).components.incidents.list("acme")
    slack = [c for c in receiver.calls if c[0] == "/slack"]
    generic = [c for c in receiver.calls if c[0] == "/generic"]
    assert len(slack) == 1 and incident.id in json.loads(slack[0][2])["text"]
    assert [c[3] for c in generic] == [500, 200]  # the queue retried the receiver's failure
    _, headers, body, _ = generic[1]
    verify(NOTICE_SECRET, body, headers, now=time.time(), tolerance_s=300)  # raises when forged
    sent = json.loads(body)
    assert sent["event"] == "incident.opened" and sent["incident"]["id"] == incident.id
    assert sent["incident"]["tenant"] == "acme" and sent["incident"]["members"] >= 4
    audit = runtime_of(client).components.history.query(
        "SELECT event, detail FROM audit WHERE event IN ('incident_notified', 'job_failed') ORDER BY seq", ()
    )
    events = [(r["event"], json.loads(r["detail"]).get("host", "")) for r in audit]
    assert ("incident_notified", receiver.url) in events and any(e == "job_failed" for e, _ in events)
    assert all("/slack" not in json.loads(r["detail"]).get("host", "") for r in audit)


def test_the_insights_api_is_tenant_scoped(client: TestClient, receiver: Receiver) -> None:
    acme = client.get("/api/insights/incidents", params={"tenant": "acme"}, headers=AUTH).json()["items"]
    assert len(acme) == 1 and acme[0]["members_timeline"]
    assert client.get("/api/insights/incidents", params={"tenant": "globex"}, headers=AUTH).json()["items"] == []
    assert client.get("/api/insights/incidents", params={"tenant": "acme"}).status_code == 401
    bad = client.get("/api/insights/incidents", params={"tenant": "acme", "state": "closed"}, headers=AUTH)
    assert bad.status_code == 422 and "state" in bad.text
    incident_id = acme[0]["id"]
    other = client.post(f"/api/insights/incidents/{incident_id}/accept", params={"tenant": "globex"}, headers=AUTH)
    assert other.status_code == 404
    accepted = client.post(f"/api/insights/incidents/{incident_id}/accept", params={"tenant": "acme"},
                           json={"by": "lead"}, headers=AUTH)  # fmt: skip
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    assert accepted.json()["notices_queued"] == 2
    again = client.post(f"/api/insights/incidents/{incident_id}/dismiss", params={"tenant": "acme"}, headers=AUTH)
    assert again.status_code == 409
    drain(client)
    assert any(json.loads(c[2]).get("event") == "incident.accepted" for c in receiver.calls if c[0] == "/generic")
    forecast = client.get("/api/insights/forecast", params={"tenant": "acme"}, headers=AUTH).json()["items"]
    total = next(f for f in forecast if f["queue"] == "*")
    assert len(total["daily"]["points"]) == 7 and sum(d["count"] for d in total["actual_daily"]) >= len(BURST)
    assert client.get("/api/insights/forecast", params={"tenant": "nobody"}, headers=AUTH).json()["items"] == []
    assert client.get("/api/insights/anomalies", params={"hours": 0}, headers=AUTH).status_code == 422
    csv_text = client.get("/api/insights/accounts.csv", params={"tenant": "acme"}, headers=AUTH)
    assert csv_text.status_code == 200 and csv_text.text.startswith("customer_id,score")


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


def test_the_insights_page_needs_the_same_sign_in_and_loads_no_cdn(client: TestClient) -> None:
    assert client.get("/insights", follow_redirects=False).headers["location"] == "/review/login"
    page = client.get("/insights", headers=AUTH)
    assert page.status_code == 200 and 'id="volume-plot"' in page.text and "http" not in page.text.split("<body>")[0]
    script = client.get("/static/js/insights.js").text
    assert "/api/insights/forecast" in script and "https://" not in script and "createElementNS" in script

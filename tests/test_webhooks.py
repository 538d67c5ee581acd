"""Webhook intake: per-source authentication, normalisation to Ticket, idempotency and every rejection.

The app under test is just the webhook router with an in-memory `enqueue` keyed by (source, delivery_id),
the same contract the durable queue keeps: a redelivery answers 200 with the job id it already has.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config.settings import Settings
from service.webhooks.routes import EnqueueOutcome, webhook_router
from tools.helpdesk.delivery import Delivery
from tools.helpdesk.generic import sign as sign_generic
from tools.helpdesk.intercom import sign as sign_intercom
from tools.helpdesk.jira import sign as sign_jira
from tools.helpdesk.zendesk import TRIGGER_TEMPLATE as ZENDESK_TEMPLATE
from tools.helpdesk.zendesk import sign as sign_zendesk

SECRET = "s3cret-shared"
NOW = 1_800_000_000.0  # a fixed clock, so staleness is exact
TOLERANCE = 300
MAX_BODY = 4_000


class Recorder:
    """enqueue() as the queue does it: one job per (source, delivery_id)."""

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], str] = {}
        self.deliveries: list[Delivery] = []

    def __call__(self, delivery: Delivery) -> EnqueueOutcome:
        key = (delivery.source, delivery.delivery_id)
        if key in self.jobs:
            return EnqueueOutcome(job_id=self.jobs[key], created=False)
        self.jobs[key] = f"job-{len(self.jobs) + 1}"
        self.deliveries.append(delivery)
        return EnqueueOutcome(job_id=self.jobs[key], created=True)


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "zendesk_secret": SECRET,
        "intercom_secret": SECRET,
        "jira_secret": SECRET,
        "freshdesk_secret": SECRET,
        "webhook_secret": SECRET,
        "max_body_bytes": MAX_BODY,
        "webhook_tolerance_s": TOLERANCE,
        "tenant": "acme",
    }
    values.update(overrides)
    return Settings(**values)


def make_client(settings: Settings | None = None) -> tuple[TestClient, Recorder]:
    recorder = Recorder()
    app = FastAPI()
    app.include_router(webhook_router(settings or make_settings(), recorder, now=lambda: NOW))
    return TestClient(app), recorder


@pytest.fixture
def service() -> Iterator[tuple[TestClient, Recorder]]:
    client, recorder = make_client()
    with client:
        yield client, recorder


# --- one valid delivery per source, and how to sign it ---------------------------------------------


def zendesk_event(sent_at: float, delivery: str) -> dict[str, Any]:
    return {
        "type": "zen:event-type:ticket.created",
        "account_id": 88888888,
        "id": "01HNXXXX-CTEXAMPLE",
        "time": "2027-01-15T08:00:00Z",
        "zendesk_event_version": "2022-11-06",
        "subject": "zen:ticket:35436",
        "detail": {
            "id": "35436",
            "subject": "Cannot log in after password reset",
            "description": "The reset link says it expired.",
            "priority": "HIGH",
            "requester_id": "9001",
            "status": "NEW",
            "tags": ["login", "vip"],
            "created_at": "2027-01-15T08:00:00Z",
            "via": {"channel": "web"},
        },
        "event": {"meta": {"sequence": {"id": "seq", "position": 1}}},
    }


def intercom_notification(sent_at: float, delivery: str) -> dict[str, Any]:
    return {
        "type": "notification_event",
        "app_id": "abc123",
        "id": delivery,
        "topic": "conversation.user.created",
        "created_at": int(sent_at),
        "delivery_attempts": 1,
        "data": {
            "type": "notification_event_data",
            "item": {
                "type": "conversation",
                "id": 147,
                "created_at": 1_799_999_990,
                "priority": "not_priority",
                "source": {
                    "type": "conversation",
                    "subject": "",
                    "body": "<p>Hi, my <b>invoice</b> is wrong &amp; I was charged twice.</p><p>Thanks</p>",
                    "author": {"type": "user", "id": "6a1b", "name": "Dana", "email": "dana@example.com"},
                },
                "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": "1", "name": "billing"}]},
            },
        },
    }


def jira_event(sent_at: float, delivery: str) -> dict[str, Any]:
    description = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "VPN drops every hour."}]},
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [
                                    {"type": "text", "text": "Seen by "},
                                    {"type": "mention", "attrs": {"id": "x", "text": "@Sam"}},
                                ],
                            }
                        ],
                    }
                ],
            },
        ],
    }
    return {
        "timestamp": int(sent_at * 1000),
        "webhookEvent": "jira:issue_created",
        "issue_event_type_name": "issue_created",
        "issue": {
            "id": "10012",
            "key": "ITSM-12",
            "fields": {
                "summary": "VPN disconnects",
                "description": description,
                "priority": {"name": "Highest", "id": "1"},
                "labels": ["network"],
                "reporter": {"accountId": "5b10a", "displayName": "Sam Lee", "emailAddress": "sam@example.com"},
                "created": "2027-01-15T08:00:00.000+0000",
            },
        },
    }


def freshdesk_rule(sent_at: float, delivery: str) -> dict[str, Any]:
    return {
        "freshdesk_webhook": {
            "ticket_id": 4021,
            "ticket_subject": "Export to CSV fails",
            "ticket_description": "<div>The export button <br>does nothing.</div>",
            "ticket_priority": "Medium",
            "ticket_tags": "export, reports",
            "ticket_contact_name": "Lee",
            "ticket_contact_email": "lee@example.com",
            "ticket_delivery": delivery,  # varies the body so two deliveries hash differently
        }
    }


def generic_ticket(sent_at: float, delivery: str) -> dict[str, Any]:
    return {
        "id": "crm-778",
        "subject": "Refund request",
        "body": "Please refund order 778.",
        "tenant": "shop-eu",
        "priority": "urgent",
        "customer": {"id": "c-1", "name": "Kim", "tier": "enterprise"},
        "tags": ["refund"],
        "created_at": "2027-01-15T08:00:00Z",
    }


@dataclass(frozen=True)
class Case:
    source: str
    payload: Callable[[float, str], dict[str, Any]]
    sign: Callable[[str, bytes, float, str], dict[str, str]]
    signature_headers: tuple[str, ...]
    delivery_header: str | None
    stale_checked: bool
    #: A mutation that breaks the payload and the field path the 422 must name.
    breaks: Callable[[dict[str, Any]], None]
    broken_field: str
    expected: dict[str, Any] = field(default_factory=dict)


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = payload
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


CASES = [
    Case(
        source="zendesk",
        payload=zendesk_event,
        sign=lambda secret, body, ts, delivery: {
            **sign_zendesk(secret, body, ts),
            "X-Zendesk-Webhook-Invocation-Id": delivery,
        },
        signature_headers=("X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"),
        delivery_header="X-Zendesk-Webhook-Invocation-Id",
        stale_checked=True,
        breaks=_drop("detail.subject"),
        broken_field="detail.subject: Field required",
        expected={
            "id": "zendesk:35436",
            "subject": "Cannot log in after password reset",
            "body": "The reset link says it expired.",
            "customer": {"id": "9001", "name": None, "tier": None, "mrr": None},
            "tags": ["login", "vip"],
            "labels": {"priority": "P1"},
            "created_at": "2027-01-15T08:00:00Z",
            "extra": {"source": "zendesk", "external_id": "35436"},
        },
    ),
    Case(
        source="intercom",
        payload=intercom_notification,
        sign=lambda secret, body, ts, delivery: sign_intercom(secret, body),
        signature_headers=("X-Hub-Signature",),
        delivery_header=None,
        stale_checked=True,
        breaks=_drop("data.item.source"),
        broken_field="data.item.source: Field required",
        expected={
            "id": "intercom:147",
            "subject": "",
            "body": "Hi, my invoice is wrong & I was charged twice.\nThanks",
            "customer": {"id": "6a1b", "name": "Dana", "tier": None, "mrr": None},
            "tags": ["billing"],
            "labels": {},  # "not_priority" names no level
            "created_at": "2027-01-15T07:59:50Z",
            "extra": {"source": "intercom", "external_id": "147"},
        },
    ),
    Case(
        source="jira",
        payload=jira_event,
        sign=lambda secret, body, ts, delivery: {**sign_jira(secret, body), "X-Atlassian-Webhook-Identifier": delivery},
        signature_headers=("X-Hub-Signature",),
        delivery_header="X-Atlassian-Webhook-Identifier",
        stale_checked=True,
        breaks=_drop("issue.fields.summary"),
        broken_field="issue.fields.summary: Field required",
        expected={
            "id": "jira:ITSM-12",
            "subject": "VPN disconnects",
            "body": "VPN drops every hour.\nSeen by @Sam",
            "customer": {"id": "5b10a", "name": "Sam Lee", "tier": None, "mrr": None},
            "tags": ["network"],
            "labels": {"priority": "P0"},
            "created_at": "2027-01-15T08:00:00Z",
            "extra": {"source": "jira", "external_id": "ITSM-12"},
        },
    ),
    Case(
        source="freshdesk",
        payload=freshdesk_rule,
        sign=lambda secret, body, ts, delivery: {"X-Caseworker-Secret": secret},
        signature_headers=("X-Caseworker-Secret",),
        delivery_header=None,
        stale_checked=False,
        breaks=_drop("freshdesk_webhook.ticket_subject"),
        broken_field="freshdesk_webhook.ticket_subject: Field required",
        expected={
            "id": "freshdesk:4021",
            "subject": "Export to CSV fails",
            "body": "The export button\ndoes nothing.",
            "customer": {"id": "lee@example.com", "name": "Lee", "tier": None, "mrr": None},
            "tags": ["export", "reports"],
            "labels": {"priority": "P2"},
            "created_at": None,
            "extra": {"source": "freshdesk", "external_id": "4021"},
        },
    ),
    Case(
        source="generic",
        payload=generic_ticket,
        sign=lambda secret, body, ts, delivery: {**sign_generic(secret, body, ts), "X-Caseworker-Delivery": delivery},
        signature_headers=("X-Caseworker-Signature", "X-Caseworker-Timestamp"),
        delivery_header="X-Caseworker-Delivery",
        stale_checked=True,
        breaks=_drop("subject"),
        broken_field="subject: Field required",
        expected={
            "id": "crm-778",
            "subject": "Refund request",
            "body": "Please refund order 778.",
            "customer": {"id": "c-1", "name": "Kim", "tier": "enterprise", "mrr": None},
            "tags": ["refund"],
            "labels": {"priority": "P0"},
            "created_at": "2027-01-15T08:00:00Z",
            "extra": {"source": "generic", "external_id": "crm-778"},
        },
    ),
]
BY_SOURCE = {case.source: case for case in CASES}
STALE_CASES = [case for case in CASES if case.stale_checked]


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode("utf-8")


def send(
    client: TestClient,
    case: Case,
    *,
    payload: dict[str, Any] | None = None,
    body: bytes | None = None,
    secret: str = SECRET,
    sent_at: float = NOW,
    delivery: str = "delivery-1",
    content_type: str = "application/json",
    drop: tuple[str, ...] = (),
    extra_headers: dict[str, str] | None = None,
) -> Any:
    if body is None:
        body = encode(payload if payload is not None else case.payload(sent_at, delivery))
    headers = {"Content-Type": content_type, **case.sign(secret, body, sent_at, delivery), **(extra_headers or {})}
    for name in drop:
        headers.pop(name, None)
    return client.post(f"/webhooks/{case.source}", content=body, headers=headers)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


# --- the happy path ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.source)
def test_valid_delivery_is_queued_as_a_normalised_ticket(service: tuple[TestClient, Recorder], case: Case) -> None:
    client, recorder = service
    response = send(client, case)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "queued", "job_id": "job-1"}
    [delivery] = recorder.deliveries
    assert delivery.source == case.source
    assert delivery.ping is False
    ticket = delivery.ticket
    assert ticket is not None
    expected = case.expected
    assert ticket.id == expected["id"]
    assert ticket.subject == expected["subject"]
    assert ticket.body == expected["body"]
    assert ticket.customer is not None and ticket.customer.model_dump() == expected["customer"]
    assert ticket.tags == expected["tags"]
    assert ticket.labels == expected["labels"]
    assert iso(ticket.created_at) == expected["created_at"]
    assert ticket.extra == expected["extra"]
    if case.source == "generic":
        assert ticket.tenant == "shop-eu"  # a generic sender names its own tenant
        assert ticket.channel == "generic"
    else:
        assert ticket.tenant == "acme"  # helpdesk tickets belong to this deployment's tenant
        assert ticket.channel == case.source


def test_delivery_ids_come_from_each_sources_idempotency_key(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    for case in CASES:
        assert send(client, case, delivery="key-42").status_code == 202
    ids = {delivery.source: delivery.delivery_id for delivery in recorder.deliveries}
    assert ids["zendesk"] == ids["intercom"] == ids["jira"] == ids["generic"] == "key-42"
    assert ids["freshdesk"].startswith("sha256:")  # Freshdesk sends no id: the payload's hash stands in
    assert {delivery.topic for delivery in recorder.deliveries} == {
        "zen:event-type:ticket.created",
        "conversation.user.created",
        "jira:issue_created",
        "automation",
        "ticket",
    }


# --- idempotency ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.source)
def test_redelivery_answers_200_with_the_same_job(service: tuple[TestClient, Recorder], case: Case) -> None:
    client, recorder = service
    first = send(client, case)
    again = send(client, case)
    assert first.status_code == 202
    assert again.status_code == 200, again.text
    assert again.json() == {"status": "duplicate", "job_id": first.json()["job_id"]}
    assert len(recorder.deliveries) == 1
    other = send(client, case, delivery="delivery-2")
    assert other.status_code == 202 and other.json()["job_id"] != first.json()["job_id"]


def test_freshdesk_key_ignores_whitespace_and_key_order(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    case = BY_SOURCE["freshdesk"]
    payload = freshdesk_rule(NOW, "same")
    compact = json.dumps(payload, separators=(",", ":")).encode()
    reordered = json.dumps({"freshdesk_webhook": dict(reversed(payload["freshdesk_webhook"].items()))}, indent=2)
    assert send(client, case, body=compact).status_code == 202
    assert send(client, case, body=reordered.encode()).status_code == 200
    assert len(recorder.deliveries) == 1


# --- authentication ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.source)
def test_wrong_secret_is_401(service: tuple[TestClient, Recorder], case: Case) -> None:
    client, recorder = service
    response = send(client, case, secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("bad ")
    assert recorder.deliveries == []


# Freshdesk sends a shared secret, not a signature over the body.
@pytest.mark.parametrize("case", [c for c in CASES if c.source != "freshdesk"], ids=lambda case: case.source)
def test_tampered_body_is_401(service: tuple[TestClient, Recorder], case: Case) -> None:
    client, recorder = service
    body = encode(case.payload(NOW, "d"))
    headers = {"Content-Type": "application/json", **case.sign(SECRET, body, NOW, "d")}
    tampered = body.replace(b"1", b"2", 1)
    assert client.post(f"/webhooks/{case.source}", content=tampered, headers=headers).status_code == 401
    assert recorder.deliveries == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.source)
def test_missing_signature_header_is_401(service: tuple[TestClient, Recorder], case: Case) -> None:
    client, recorder = service
    for header in case.signature_headers:
        response = send(client, case, drop=(header,))
        assert response.status_code == 401, header
        assert response.json() == {"detail": f"missing {header} header"}
    assert recorder.deliveries == []


@pytest.mark.parametrize("case", STALE_CASES, ids=lambda case: case.source)
@pytest.mark.parametrize("offset", [-(TOLERANCE + 1), TOLERANCE + 60], ids=["old", "future"])
def test_stale_timestamp_is_401(service: tuple[TestClient, Recorder], case: Case, offset: float) -> None:
    client, recorder = service
    response = send(client, case, sent_at=NOW + offset)
    assert response.status_code == 401, response.text
    assert "stale" in response.json()["detail"]
    assert recorder.deliveries == []


@pytest.mark.parametrize("case", STALE_CASES, ids=lambda case: case.source)
def test_timestamp_inside_tolerance_is_accepted(service: tuple[TestClient, Recorder], case: Case) -> None:
    client, _ = service
    assert send(client, case, sent_at=NOW - TOLERANCE + 5).status_code == 202


def test_freshdesk_secret_header_is_configurable() -> None:
    client, recorder = make_client(make_settings(freshdesk_secret_header="X-Desk-Token"))
    case = BY_SOURCE["freshdesk"]
    assert send(client, case).status_code == 401  # the default header no longer counts
    response = send(client, case, drop=("X-Caseworker-Secret",), extra_headers={"X-Desk-Token": SECRET})
    assert response.status_code == 202
    assert len(recorder.deliveries) == 1


def test_malformed_generic_timestamp_is_401(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    body = encode(generic_ticket(NOW, "d"))
    headers = {
        "Content-Type": "application/json",
        "X-Caseworker-Delivery": "d",
        "X-Caseworker-Timestamp": "yesterday",
        "X-Caseworker-Signature": sign_generic(SECRET, body, NOW)["X-Caseworker-Signature"],
    }
    assert client.post("/webhooks/generic", content=body, headers=headers).status_code == 401
    assert recorder.deliveries == []


# --- configuration, size, content type, JSON --------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "setting", "env"),
    [
        (BY_SOURCE["zendesk"], "zendesk_secret", "CASEWORKER_ZENDESK_SECRET"),
        (BY_SOURCE["intercom"], "intercom_secret", "CASEWORKER_INTERCOM_SECRET"),
        (BY_SOURCE["jira"], "jira_secret", "CASEWORKER_JIRA_SECRET"),
        (BY_SOURCE["freshdesk"], "freshdesk_secret", "CASEWORKER_FRESHDESK_SECRET"),
        (BY_SOURCE["generic"], "webhook_secret", "CASEWORKER_WEBHOOK_SECRET"),
    ],
    ids=lambda value: value.source if isinstance(value, Case) else "",
)
def test_unset_secret_is_404(case: Case, setting: str, env: str) -> None:
    client, recorder = make_client(make_settings(**{setting: None}))
    response = send(client, case)
    assert response.status_code == 404
    assert response.json() == {"detail": f"{case.source} webhooks are not configured: set {env}"}
    assert recorder.deliveries == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.source)
def test_oversized_body_is_413(service: tuple[TestClient, Recorder], case: Case) -> None:
    client, recorder = service
    payload = case.payload(NOW, "d")
    payload["padding"] = "x" * MAX_BODY
    response = send(client, case, payload=payload)
    assert response.status_code == 413
    assert response.json()["detail"].endswith(f"exceeds {MAX_BODY} bytes")
    assert recorder.deliveries == []


def test_oversized_body_without_content_length_is_413(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    case = BY_SOURCE["generic"]
    payload = generic_ticket(NOW, "d")
    payload["padding"] = "x" * (3 * MAX_BODY)
    body = encode(payload)
    headers = {"Content-Type": "application/json", **case.sign(SECRET, body, NOW, "d")}
    chunks = (body[i : i + 1000] for i in range(0, len(body), 1000))  # streamed: chunked, no Content-Length
    response = client.post("/webhooks/generic", content=chunks, headers=headers)
    assert response.status_code == 413
    assert response.json() == {"detail": f"body exceeds {MAX_BODY} bytes"}
    assert recorder.deliveries == []


def test_body_longer_than_its_content_length_is_413(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    case = BY_SOURCE["generic"]
    payload = generic_ticket(NOW, "d")
    payload["padding"] = "x" * MAX_BODY
    body = encode(payload)
    headers = {"Content-Type": "application/json", "Content-Length": "100", **case.sign(SECRET, body, NOW, "d")}
    response = client.post("/webhooks/generic", content=body, headers=headers)
    assert response.status_code == 413
    assert response.json() == {"detail": f"body exceeds {MAX_BODY} bytes"}  # caught while reading, not declared
    assert recorder.deliveries == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.source)
def test_wrong_content_type_is_415(service: tuple[TestClient, Recorder], case: Case) -> None:
    client, recorder = service
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        assert send(client, case, content_type=content_type).status_code == 415
    assert recorder.deliveries == []


def test_json_content_type_with_charset_is_accepted(service: tuple[TestClient, Recorder]) -> None:
    client, _ = service
    assert send(client, BY_SOURCE["generic"], content_type="application/json; charset=utf-8").status_code == 202


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.source)
def test_malformed_json_is_400(service: tuple[TestClient, Recorder], case: Case) -> None:
    client, recorder = service
    response = send(client, case, body=b'{"ticket": {"id": ')  # correctly signed, just not JSON
    assert response.status_code == 400
    assert response.json()["detail"].startswith("malformed JSON: ")
    assert recorder.deliveries == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.source)
def test_json_that_is_not_an_object_is_422(service: tuple[TestClient, Recorder], case: Case) -> None:
    client, recorder = service
    response = send(client, case, body=b"[1, 2]")
    assert response.status_code == 422
    assert response.json() == {"detail": "body: expected a JSON object, got list"}
    assert recorder.deliveries == []


# --- payloads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.source)
def test_unparseable_payload_is_422_naming_the_field(service: tuple[TestClient, Recorder], case: Case) -> None:
    client, recorder = service
    payload = case.payload(NOW, "d")
    case.breaks(payload)
    response = send(client, case, payload=payload)
    assert response.status_code == 422, response.text
    assert case.broken_field in response.json()["detail"]
    assert recorder.deliveries == []


@pytest.mark.parametrize(
    ("source", "header"),
    [
        ("zendesk", "X-Zendesk-Webhook-Invocation-Id"),
        ("jira", "X-Atlassian-Webhook-Identifier"),
        ("generic", "X-Caseworker-Delivery"),
    ],
)
def test_missing_delivery_header_is_400_naming_it(
    service: tuple[TestClient, Recorder], source: str, header: str
) -> None:
    client, recorder = service
    response = send(client, BY_SOURCE[source], drop=(header,))
    assert response.status_code == 400
    assert header in response.json()["detail"]
    assert recorder.deliveries == []


def test_overlong_delivery_id_is_400(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    response = send(client, BY_SOURCE["generic"], delivery="k" * 300)
    assert response.status_code == 400
    assert "X-Caseworker-Delivery" in response.json()["detail"]
    assert recorder.deliveries == []


def test_intercom_notification_without_id_is_400(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    payload = intercom_notification(NOW, "d")
    del payload["id"]
    response = send(client, BY_SOURCE["intercom"], payload=payload)
    assert response.status_code == 400
    assert "notification id" in response.json()["detail"]
    assert recorder.deliveries == []


def test_intercom_ping_answers_pong_and_queues_nothing(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    ping = {
        "type": "notification_event",
        "id": "notif_ping",
        "topic": "ping",
        "created_at": int(NOW),
        "data": {"item": {"type": "ping", "message": "something something interzen"}},
    }
    response = send(client, BY_SOURCE["intercom"], payload=ping)
    assert response.status_code == 200
    assert response.json() == {"status": "pong"}
    assert recorder.deliveries == []


@pytest.mark.parametrize(
    ("source", "payload", "reason"),
    [
        (
            "zendesk",
            {"type": "zen:event-type:user.active_changed", "detail": {"id": "1"}},
            "is not a ticket event",
        ),
        (
            "zendesk",
            {"type": "zen:event-type:ticket.permanently_deleted", "detail": {"id": "1", "subject": "x"}},
            "nothing to triage",
        ),
        ("zendesk", {"something": "else"}, "expected a Zendesk ticket event"),
        ("intercom", {"type": "notification_event", "id": "n1", "topic": "contact.created", "data": {}}, "topic"),
        ("jira", {"timestamp": int(NOW * 1000), "webhookEvent": "sprint_started"}, "webhookEvent"),
    ],
)
def test_events_that_are_not_tickets_are_422(
    service: tuple[TestClient, Recorder], source: str, payload: dict[str, Any], reason: str
) -> None:
    client, recorder = service
    response = send(client, BY_SOURCE[source], payload=payload)
    assert response.status_code == 422
    assert reason in response.json()["detail"]
    assert recorder.deliveries == []


def test_zendesk_trigger_payload_from_the_documented_template(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    rendered = (
        ZENDESK_TEMPLATE.replace("{{ticket.id}}", "512")
        .replace("{{ticket.title}}", "Printer on fire")
        .replace("{{ticket.description}}", "It is literally on fire.")
        .replace("{{ticket.priority}}", "Urgent")
        .replace("{{ticket.tags}}", "hardware office_2")
        .replace("{{ticket.requester.id}}", "77")
        .replace("{{ticket.requester.name}}", "Ana")
        .replace("{{ticket.requester.email}}", "ana@example.com")
        .replace("{{ticket.created_at_with_timestamp}}", "2027-01-15T07:35Z")
        # On creation the latest public comment is the description, written by the requester.
        .replace("{{ticket.latest_public_comment}}", "It is literally on fire.")
        .replace("{{current_user.id}}", "77")
        .replace("{{current_user.role}}", "end-user")
    )
    assert "{{" not in rendered
    response = send(client, BY_SOURCE["zendesk"], body=rendered.encode())
    assert response.status_code == 202, response.text
    [delivery] = recorder.deliveries
    ticket = delivery.ticket
    assert delivery.topic == "trigger"
    assert ticket is not None
    assert (ticket.id, ticket.subject, ticket.body) == ("zendesk:512", "Printer on fire", "It is literally on fire.")
    assert ticket.tags == ["hardware", "office_2"]
    assert ticket.labels == {"priority": "P0"}
    assert ticket.customer is not None and (ticket.customer.id, ticket.customer.name) == ("77", "Ana")
    assert iso(ticket.created_at) == "2027-01-15T07:35:00Z"
    assert ticket.extra == {"source": "zendesk", "external_id": "512"}
    assert ticket.thread == []  # the first comment is the description, not a follow-up


def test_unset_placeholders_and_unknown_priorities_add_no_labels(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    payload = {"ticket": {"id": "9", "subject": "Hi", "priority": "-", "tags": "", "requester": {"id": ""}}}
    assert send(client, BY_SOURCE["zendesk"], payload=payload).status_code == 202
    ticket = recorder.deliveries[0].ticket
    assert ticket is not None
    assert (ticket.labels, ticket.tags, ticket.customer, ticket.body) == ({}, [], None, "")


def test_jira_plain_text_description_and_numeric_freshdesk_priority(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    issue = jira_event(NOW, "d")
    issue["issue"]["fields"]["description"] = "Plain wiki text"
    issue["issue"]["fields"]["priority"] = None
    assert send(client, BY_SOURCE["jira"], payload=issue).status_code == 202
    rule = freshdesk_rule(NOW, "d")
    rule["freshdesk_webhook"]["ticket_priority"] = 4
    assert send(client, BY_SOURCE["freshdesk"], payload=rule).status_code == 202
    jira_ticket, freshdesk_ticket = (delivery.ticket for delivery in recorder.deliveries)
    assert jira_ticket is not None and freshdesk_ticket is not None
    assert (jira_ticket.body, jira_ticket.labels) == ("Plain wiki text", {})
    assert freshdesk_ticket.labels == {"priority": "P0"}


def test_generic_sender_cannot_redirect_the_write_back(service: tuple[TestClient, Recorder]) -> None:
    client, recorder = service
    payload = generic_ticket(NOW, "d")
    payload["extra"] = {"source": "zendesk", "external_id": "1", "crm_url": "https://crm.example/778"}
    assert send(client, BY_SOURCE["generic"], payload=payload).status_code == 202
    ticket = recorder.deliveries[0].ticket
    assert ticket is not None
    assert ticket.extra == {"source": "generic", "external_id": "crm-778", "crm_url": "https://crm.example/778"}


def test_openapi_documents_every_webhook(service: tuple[TestClient, Recorder]) -> None:
    client, _ = service
    paths = client.get("/openapi.json").json()["paths"]
    for source in ("zendesk", "intercom", "jira", "freshdesk", "generic"):
        operation = paths[f"/webhooks/{source}"]["post"]
        assert operation["summary"] and "delivery id" in operation["description"]
        assert {"202", "200", "400", "401", "404", "413", "415", "422"} <= set(operation["responses"])
        assert "application/json" in operation["requestBody"]["content"]
    example = paths["/webhooks/zendesk"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert example == json.loads(ZENDESK_TEMPLATE)

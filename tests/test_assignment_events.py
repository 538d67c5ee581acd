"""Open load from the helpdesks' own assignment and status events: real signed posts through the webhook routes
into the assignments table (SQLite), mapped to roster agents by their helpdesk ids; redeliveries and late
events change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from knowledge.assignments import Assignments
from knowledge.history import History
from knowledge.roster import Agent, Roster
from service.webhooks.routes import webhook_router
from tests.test_webhooks import (
    NOW,
    SECRET,
    Recorder,
    freshdesk_rule,
    intercom_notification,
    jira_event,
    make_settings,
    zendesk_event,
)
from tools.helpdesk.intercom import sign as sign_intercom
from tools.helpdesk.jira import sign as sign_jira
from tools.helpdesk.zendesk import sign as sign_zendesk

IDS = {"zendesk": "101", "jira": "acc-a", "freshdesk": "9", "intercom": "530165"}


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[TestClient, Assignments]]:
    history = History(tmp_path / "h.sqlite3")
    Roster(history).upsert([Agent(id="alice", tenant="acme", name="Alice", helpdesk_ids=IDS)])
    book = Assignments(history)
    app = FastAPI()
    app.include_router(webhook_router(make_settings(), Recorder(), now=lambda: NOW, record_assignment=book.apply_event))
    with TestClient(app) as client:
        yield client, book


def post(client: TestClient, source: str, payload: dict[str, Any], delivery: str) -> Any:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if source == "zendesk":
        headers |= sign_zendesk(SECRET, body, NOW) | {"X-Zendesk-Webhook-Invocation-Id": delivery}
    elif source == "jira":
        headers |= sign_jira(SECRET, body) | {"X-Atlassian-Webhook-Identifier": delivery}
    elif source == "intercom":
        headers |= sign_intercom(SECRET, body)
    else:
        headers["X-Caseworker-Secret"] = SECRET
    answer = client.post(f"/webhooks/{source}", content=body, headers=headers)
    assert answer.status_code < 300, answer.text
    return answer.json()


def zendesk(assignee: str | None, status: str, time: str, kind: str = "agent_assignment_changed") -> dict[str, Any]:
    payload = zendesk_event(NOW, "d")
    payload["type"], payload["time"] = f"zen:event-type:ticket.{kind}", time
    payload["detail"] |= {"assignee_id": assignee, "status": status}
    return payload


def test_zendesk_assignment_and_status_events_keep_the_load_idempotently(desk: tuple[TestClient, Assignments]) -> None:
    client, book = desk
    post(client, "zendesk", zendesk("101", "OPEN", "2027-01-15T08:05:00Z"), "z1")
    post(client, "zendesk", zendesk("101", "OPEN", "2027-01-15T08:05:00Z"), "z1")  # redelivery
    assert book.open_load("acme") == {"alice": 1}
    post(client, "zendesk", zendesk("101", "SOLVED", "2027-01-15T09:00:00Z", "status_changed"), "z2")
    assert book.open_load("acme") == {}
    # The assignment event arriving late, after the ticket was solved, changes nothing.
    post(client, "zendesk", zendesk("101", "OPEN", "2027-01-15T08:30:00Z"), "z3")
    assert book.open_load("acme") == {}
    assert book.get("acme", "zendesk:35436").state == "closed"  # type: ignore[union-attr]


def test_jira_issue_updates_carry_assignee_and_status_category(desk: tuple[TestClient, Assignments]) -> None:
    client, book = desk
    event = jira_event(NOW, "j1")
    event["webhookEvent"] = "jira:issue_updated"
    event["issue"]["fields"] |= {
        "assignee": {"accountId": "acc-a", "displayName": "Alice"},
        "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}},
    }
    post(client, "jira", event, "j1")
    assert book.open_load("acme") == {"alice": 1}
    event["timestamp"] += 1000
    event["issue"]["fields"]["status"] = {"name": "Done", "statusCategory": {"key": "done"}}
    post(client, "jira", event, "j2")
    assert book.open_load("acme") == {}


def test_intercom_admin_topics_are_not_triaged_but_move_the_load(desk: tuple[TestClient, Assignments]) -> None:
    client, book = desk
    note = intercom_notification(NOW, "i1")
    note["topic"] = "conversation.admin.assigned"
    note["data"]["item"] |= {"admin_assignee_id": 530165, "state": "open"}
    assert post(client, "intercom", note, "i1")["status"] == "ignored"
    assert book.open_load("acme") == {"alice": 1}
    note |= {"id": "i2", "topic": "conversation.admin.closed", "created_at": int(NOW) + 5}
    note["data"]["item"]["state"] = "closed"
    post(client, "intercom", note, "i2")
    assert book.open_load("acme") == {}


def test_freshdesk_rules_that_send_responder_and_status(desk: tuple[TestClient, Assignments]) -> None:
    client, book = desk
    rule = freshdesk_rule(NOW, "f1")
    rule["freshdesk_webhook"] |= {"ticket_responder_id": 9, "ticket_status": "Open",
                                  "ticket_updated_at": "2027-01-15T08:00:00Z"}  # fmt: skip
    post(client, "freshdesk", rule, "f1")
    assert book.open_load("acme") == {"alice": 1}
    rule["freshdesk_webhook"] |= {"ticket_status": "Resolved", "ticket_updated_at": "2027-01-15T10:00:00Z"}
    post(client, "freshdesk", rule, "f2")
    assert book.open_load("acme") == {}


def test_a_ticket_event_without_assignee_or_status_records_nothing(desk: tuple[TestClient, Assignments]) -> None:
    client, book = desk
    rule = freshdesk_rule(NOW, "f9")
    assert post(client, "freshdesk", rule, "f9")["status"] == "queued"
    assert book.get("acme", "freshdesk:4021") is None


def test_a_bad_assignee_field_is_a_422_naming_it(desk: tuple[TestClient, Assignments]) -> None:
    client, _ = desk
    note = intercom_notification(NOW, "i9")
    note["data"]["item"]["admin_assignee_id"] = {"id": 1}
    body = json.dumps(note).encode()
    headers = {"Content-Type": "application/json"} | sign_intercom(SECRET, body)
    answer = client.post("/webhooks/intercom", content=body, headers=headers)
    assert answer.status_code == 422 and "admin_assignee_id" in answer.json()["detail"]

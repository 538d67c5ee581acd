"""Escalations through the service: a P0 outage or a security report escalates, is stored with its
result, and agents see it sorted by SLA, acknowledge it, assign it and resolve it, with who and when
recorded, audited, and 409 when two agents collide."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from config.components import Components
from knowledge.history import History
from tests.fake_helpdesk import FakeHelpdesk
from tests.service_harness import AUTH, OUTAGE, drain, post_zendesk, runtime_of, service_client

SECURITY = ("Account hacked?", "Someone logged into my account from an unknown device and changed my email. Phishing?")


@pytest.fixture
def helpdesk() -> Iterator[FakeHelpdesk]:
    with FakeHelpdesk() as fake:
        yield fake


@pytest.fixture
def client(trained_workspace: Components, helpdesk: FakeHelpdesk) -> Iterator[TestClient]:
    with service_client(trained_workspace, helpdesk) as test_client:
        yield test_client


def _escalate(client: TestClient) -> list[dict]:
    post_zendesk(client, "6001", *SECURITY, "inv-6001")
    post_zendesk(client, "6002", *OUTAGE, "inv-6002")
    drain(client)
    return client.get("/api/escalations", headers=AUTH).json()["items"]


def test_escalations_are_listed_soonest_sla_first_with_their_context(client: TestClient) -> None:
    items = _escalate(client)
    assert {item["ticket_id"]: item["reason"] for item in items} == {
        "zendesk:6001": "security",
        "zendesk:6002": "p0_incident",
    }
    dues = [item["first_response_due"] for item in items]
    assert dues == sorted(dues) and items[0]["ticket_id"] == "zendesk:6002"  # the P0 is due first
    outage = items[0]
    assert outage["state"] == "open" and outage["priority"] == "P0" and outage["version"] == 1
    assert outage["subject"] == OUTAGE[0] and outage["summary"].startswith(OUTAGE[0])
    assert outage["suggested_team"] and outage["packet"]["context_for_agent"]
    assert outage["helpdesk_url"] == f"{runtime_of(client).settings.zendesk_url}/agent/tickets/6002"
    assert outage["resolution_due"] and isinstance(outage["at_risk"], bool)

    security = client.get("/api/escalations", params={"reason": "security"}, headers=AUTH).json()["items"]
    assert [item["ticket_id"] for item in security] == ["zendesk:6001"]
    assert client.get("/api/escalations", params={"tenant": "other"}, headers=AUTH).json()["items"] == []
    one = client.get(f"/api/escalations/{outage['id']}", headers=AUTH).json()["escalation"]
    assert one["id"] == outage["id"] and one["packet"] == outage["packet"]
    assert outage["suggested_team"] in client.get("/api/escalations/teams", headers=AUTH).json()["teams"]
    assert client.get("/api/escalations", params={"state": "bogus"}, headers=AUTH).status_code == 422
    assert client.get("/api/escalations/e-nope", headers=AUTH).status_code == 404
    assert client.get("/api/escalations").status_code == 401


def test_acknowledge_assign_resolve_record_who_and_conflict(client: TestClient) -> None:
    outage = _escalate(client)[0]
    url = f"/api/escalations/{outage['id']}"
    assert client.post(f"{url}/acknowledge", headers=AUTH, json={"by": "  "}).status_code == 422  # who is required

    acked = client.post(f"{url}/acknowledge", headers=AUTH, json={"by": "sam", "version": 1})
    assert acked.status_code == 200, acked.text
    acked_item = acked.json()["escalation"]
    assert acked_item["state"] == "acknowledged" and acked_item["acknowledged_by"] == "sam"
    assert acked_item["acknowledged_at"] and acked_item["version"] == 2
    second = client.post(f"{url}/acknowledge", headers=AUTH, json={"by": "kim"})
    assert second.status_code == 409 and "already acknowledged by sam" in second.json()["detail"]

    stale = client.post(f"{url}/assign", headers=AUTH, json={"assignee": "sre", "by": "kim", "version": 1})
    assert stale.status_code == 409 and "changed since you loaded it" in stale.json()["detail"]
    assert client.post(f"{url}/assign", headers=AUTH, json={"assignee": "sre", "by": "kim"}).status_code == 422
    assigned = client.post(f"{url}/assign", headers=AUTH, json={"assignee": "Site reliability", "by": "kim",
                                                                "version": 2})  # fmt: skip
    assert assigned.status_code == 200
    item = assigned.json()["escalation"]
    assert (item["assignee"], item["assigned_by"], item["version"]) == ("Site reliability", "kim", 3)
    assert item["acknowledged_by"] == "sam"  # assigning keeps who acknowledged first
    assert "Site reliability" in client.get("/api/escalations/teams", headers=AUTH).json()["teams"]
    by_team = client.get("/api/escalations", params={"team": "Site reliability"}, headers=AUTH).json()["items"]
    assert [i["id"] for i in by_team] == [outage["id"]]

    resolved = client.post(f"{url}/resolve", headers=AUTH, json={"by": "kim", "version": 3})
    assert resolved.status_code == 200 and resolved.json()["escalation"]["state"] == "resolved"
    assert outage["id"] not in [i["id"] for i in client.get("/api/escalations", headers=AUTH).json()["items"]]
    everything = client.get("/api/escalations", params={"state": "all"}, headers=AUTH).json()["items"]
    assert outage["id"] in [i["id"] for i in everything]
    late = client.post(f"{url}/assign", headers=AUTH, json={"assignee": "x", "by": "lee", "version": 4})
    assert late.status_code == 409 and "already resolved by kim" in late.json()["detail"]

    audit = runtime_of(client).components.history.audit_rows("zendesk:6002")
    trail = [(row["event"], row["detail"].get("by")) for row in audit if row["event"].startswith("escalation_")]
    assert trail == [("escalation_acknowledged", "sam"), ("escalation_assigned", "kim"), ("escalation_resolved", "kim")]


def test_a_newer_escalation_of_the_ticket_supersedes_and_keeps_the_assignment(client: TestClient) -> None:
    outage = _escalate(client)[0]
    client.post(f"/api/escalations/{outage['id']}/assign", headers=AUTH, json={"assignee": "sre", "by": "sam",
                                                                              "version": 1})  # fmt: skip
    post_zendesk(client, "6002", OUTAGE[0], OUTAGE[1] + " Still down after an hour.", "inv-6002-update")
    drain(client)
    active = [
        i for i in client.get("/api/escalations", headers=AUTH).json()["items"] if i["ticket_id"] == "zendesk:6002"
    ]
    assert len(active) == 1 and active[0]["id"] != outage["id"]
    assert (active[0]["state"], active[0]["assignee"], active[0]["acknowledged_by"]) == ("acknowledged", "sre", "sam")
    old = client.post(f"/api/escalations/{outage['id']}/resolve", headers=AUTH, json={"by": "sam"})
    assert old.status_code == 409 and "superseded by a newer triage" in old.json()["detail"]


def test_escalations_survive_a_restart_and_old_results_are_backfilled(client: TestClient) -> None:
    ids = sorted(item["id"] for item in _escalate(client))
    history_path = runtime_of(client).settings.history_path
    conn = sqlite3.connect(history_path)
    conn.execute("DROP TABLE escalations")  # a data dir from before escalations had a table ...
    conn.execute("DELETE FROM schema_migrations WHERE version >= 5")  # ... and so before its migration
    conn.commit()
    conn.close()
    reopened = History(history_path)
    rows = reopened.query("SELECT id, state, reason FROM escalations ORDER BY id", ())
    assert [row["id"] for row in rows] == ids and {row["state"] for row in rows} == {"open"}
    reopened.close()

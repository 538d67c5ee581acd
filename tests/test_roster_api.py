"""The roster through the service API: list, show and import (CSV, JSON and JSONL bodies) with the CLI import's
validation and messages (`body:LINE: FIELD: reason`), the review API's auth, and one tenant never seeing or
writing another's agents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from knowledge.roster_import import read_roster
from tests.signed_webhooks import AUTH, runtime_of, service
from tests.test_roster import ROSTER_CSV

CSV = {**AUTH, "Content-Type": "text/csv"}
JSON = {**AUTH, "Content-Type": "application/json"}
GOOD_CSV = """id,name,email,teams,languages,capacity,hours,timezone,senior,zendesk_id
alice,Alice,alice@example.com,billing;on-call,en;de,8,Mon-Fri 09:00-17:00,Europe/Berlin,true,101
bob,Bob,bob@example.com,billing,en,,,,false,
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The real app over an empty data dir: the roster needs no model (max body 4,000 bytes)."""
    with service(tmp_path_factory.mktemp("roster-api") / "data", max_body_bytes=4_000) as test_client:
        yield test_client


def _import(client: TestClient, tenant: str, body: str, headers: dict[str, str] = CSV) -> dict:
    response = client.post(f"/api/agents/import?tenant={tenant}", content=body.encode(), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_csv_import_lists_and_shows_the_tenants_agents(client: TestClient) -> None:
    assert _import(client, "csv-co", GOOD_CSV) == {
        "tenant": "csv-co", "rows_read": 2, "new": 2, "updated": 0, "agents": ["alice", "bob"],
    }  # fmt: skip
    again = _import(client, "csv-co", GOOD_CSV.replace("Bob,", "Robert,"))
    assert (again["new"], again["updated"]) == (0, 2)
    items = client.get("/api/agents?tenant=csv-co", headers=AUTH).json()["items"]
    assert [(a["id"], a["name"], a["open_tickets"]) for a in items] == [("alice", "Alice", 0), ("bob", "Robert", 0)]
    alice = items[0]
    assert alice["teams"] == ["billing", "on-call"] and alice["capacity"] == 8 and alice["senior"] is True
    assert alice["hours"] == "Mon,Tue,Wed,Thu,Fri 09:00-17:00 Europe/Berlin"
    assert alice["helpdesk_ids"] == {"zendesk": "101"} and isinstance(alice["on_shift"], bool)
    shown = client.get("/api/agents/alice?tenant=csv-co", headers=AUTH).json()
    assert shown["agent"]["email"] == "alice@example.com" and shown["profile"] is None
    assert shown["explanation"][0] == "Alice (alice) <alice@example.com> — senior"
    assert shown["explanation"][-1].startswith("No skill profiles for this tenant yet")
    audit = [row for row in runtime_of(client).components.history.audit_rows() if row["event"] == "roster_import"]
    assert audit[0]["tenant"] == "csv-co" and audit[0]["detail"]["agents"] == ["alice", "bob"]


def test_json_and_jsonl_bodies_import_too(client: TestClient) -> None:
    rows = [{"id": "a1", "name": "Ann", "languages": ["en"], "helpdesk_ids": {"jira": "acc-1"}},
            {"id": 7, "name": "Seven", "capacity": 2}]  # fmt: skip
    assert _import(client, "json-co", json.dumps(rows), JSON)["agents"] == ["a1", "7"]
    jsonl = {**AUTH, "Content-Type": "application/x-ndjson"}
    assert _import(client, "jsonl-co", "\n".join(json.dumps(r) for r in rows) + "\n", jsonl)["new"] == 2
    listed = client.get("/api/agents?tenant=json-co", headers=AUTH).json()["items"]
    assert {a["id"]: a["helpdesk_ids"] for a in listed} == {"7": {}, "a1": {"jira": "acc-1"}}


def test_bad_rows_are_422_with_the_cli_messages_and_nothing_is_imported(client: TestClient, tmp_path: Path) -> None:
    response = client.post("/api/agents/import?tenant=bad-co", content=ROSTER_CSV.encode(), headers=CSV)
    assert response.status_code == 422, response.text
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER_CSV)
    cli = read_roster(path, tenant="bad-co").rejects  # what `caseworker agents import roster.csv` reports
    body = response.json()
    assert [r["message"] for r in body["rejects"]] == [str(r).replace(str(path), "body") for r in cli]
    reason = "'many' is not a whole number of open tickets"
    assert body["rejects"][0] == {
        "line": 3,
        "field": "capacity",
        "reason": reason,
        "message": f"body:3: capacity: {reason}",
    }
    assert body["detail"].startswith("6 of 7 rows rejected, nothing imported: body:3: capacity: 'many'")
    assert client.get("/api/agents?tenant=bad-co", headers=AUTH).json()["items"] == []  # not even alice


def test_json_rows_are_named_by_the_line_their_object_starts_on(client: TestClient) -> None:
    rows = [{"id": "a1", "name": "Ann"}, {"id": "a2", "name": "Ben", "hours": "weekdays 9 to 5", "timezone": "UTC"},
            {"id": "a3", "name": "Di", "capcity": 4}]  # fmt: skip
    body = "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n"
    response = client.post("/api/agents/import?tenant=json-bad", content=body.encode(), headers=JSON)
    assert response.status_code == 422
    assert [(r["line"], r["field"]) for r in response.json()["rejects"]] == [(3, "hours"), (4, "capcity")]


@pytest.mark.parametrize(
    ("body", "headers", "status", "detail"),
    [
        ("id,name,capcity\na,A,3\n", CSV, 422, "body: unknown column(s) capcity (known: id, tenant, name,"),
        ("", CSV, 422, "body: empty file, expected a header row"),
        ('{"id": "a"}', JSON, 422, "body: expected a JSON array of objects, got object"),
        ("[1, 2", JSON, 422, "body: invalid JSON at line 1"),
        ("[]", JSON, 422, "body: no agents to import"),
        ("id,name\na,A\n", {**AUTH, "Content-Type": "text/plain"}, 415, "content type must be one of text/csv"),
        ("id,name\n" + "a,A\n" * 1_500, CSV, 413, "body: "),
    ],
)
def test_unreadable_bodies_are_refused_naming_what_is_wrong(
    client: TestClient, body: str, headers: dict[str, str], status: int, detail: str
) -> None:
    response = client.post("/api/agents/import?tenant=refused", content=body.encode(), headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(detail)
    assert client.get("/api/agents?tenant=refused", headers=AUTH).json()["items"] == []


def test_tenants_never_see_or_write_each_others_agents(client: TestClient) -> None:
    _import(client, "acme", "id,name,skills\nsam,Sam of Acme,billing\nann,Ann,\n")
    _import(client, "globex", "id,name,skills\nsam,Sam of Globex,outage\n")
    acme = client.get("/api/agents?tenant=acme", headers=AUTH).json()["items"]
    globex = client.get("/api/agents?tenant=globex", headers=AUTH).json()["items"]
    assert [(a["id"], a["name"], a["tenant"]) for a in acme] == [("ann", "Ann", "acme"), ("sam", "Sam of Acme", "acme")]
    assert [(a["id"], a["name"]) for a in globex] == [("sam", "Sam of Globex")]
    assert client.get("/api/agents/sam?tenant=globex", headers=AUTH).json()["agent"]["skills"] == ["outage"]
    missing = client.get("/api/agents/ann?tenant=globex", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["detail"] == "no agent 'ann' in tenant 'globex'"
    # An import for acme cannot write a globex agent, whatever its rows say.
    forged = client.post("/api/agents/import?tenant=acme", content=b"id,name,tenant\nsam,Mallory,globex\n", headers=CSV)
    assert forged.status_code == 422
    assert forged.json()["rejects"][0]["message"] == (
        "body:2: tenant: 'globex' is another tenant: this import is for 'acme'"
    )
    assert client.get("/api/agents/sam?tenant=globex", headers=AUTH).json()["agent"]["name"] == "Sam of Globex"


def test_the_roster_api_needs_the_review_token(client: TestClient) -> None:
    assert client.get("/api/agents").status_code == 401
    assert client.get("/api/agents/alice?tenant=csv-co").status_code == 401
    wrong = {"Authorization": "Bearer nope", "Content-Type": "text/csv"}
    refused = client.post("/api/agents/import?tenant=sneaky", content=GOOD_CSV.encode(), headers=wrong)
    assert refused.status_code == 401
    assert client.get("/api/agents?tenant=sneaky", headers=AUTH).json()["items"] == []
    bad_tenant = client.get("/api/agents?tenant=a%0Ab", headers=AUTH)
    assert bad_tenant.status_code == 422 and bad_tenant.json()["detail"].startswith("tenant: ")


def test_agent_text_is_shown_clean(client: TestClient) -> None:
    _import(client, "hostile", "id,name,teams\nmal,Mal\u202eyrotcif\u200b,ops\u2066x\u2069\n")
    [agent] = client.get("/api/agents?tenant=hostile", headers=AUTH).json()["items"]
    assert (agent["name"], agent["teams"]) == ("Malyrotcif", ["opsx"])
    stored = runtime_of(client).components.routing.roster.get("hostile", "mal")
    assert stored is not None and stored.name == "Mal\u202eyrotcif\u200b"  # what is stored is never changed

"""The routing suggestion on the review API: the assignee and two alternatives with their score parts and reasons,
a picker fed by the review's tenant's roster only, and a changed assignee stored as a human label that the next
build of skill profiles learns from and the classifier never sees."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.components import Components
from config.settings import Settings
from knowledge.roster import Agent, Roster
from service.retraining import due_after_labels
from service.worker import Worker
from tests.conftest import SMALL_HISTORY, TAXONOMY, history_tickets, kb_articles
from tests.signed_webhooks import AUTH, post, runtime_of, service

MIXED = ("Invoice and login", "I need the invoice but I can't log in, the password reset email is missing.")
#: Who resolved each queue's history tickets in the default tenant.
RESOLVERS = {"account": "alice", "billing": "bob", "reliability": "carol"}
RLO, ZWSP = "\u202e", "\u200b"


def routed_data_dir(root: Path) -> Path:
    """The shared test history with its resolvers, skill profiles built, a default-tenant roster (dave has no
    history, erin is inactive) and another tenant's roster (zoe)."""
    ws = Components(Settings(data_dir=root / "data", **SMALL_HISTORY))
    taxonomy = root / "taxonomy.toml"
    taxonomy.write_text(TAXONOMY)
    ws.install_taxonomy(taxonomy)
    tickets = [
        t.model_copy(update={"labels": {**t.labels, "assignee": RESOLVERS[t.labels["queue"]]}})
        for t in history_tickets()
    ]
    ws.ingest.tickets(tickets)
    ws.ingest.kb(kb_articles())
    ws.train()
    assert ws.build_routing_profiles() == {"default": 12}
    roster = Roster(ws.history)
    roster.upsert(
        [
            Agent(id="alice", name="Alice"),
            Agent(id="bob", name="Bob", capacity=5),
            Agent(id="carol", name=f"Carol{RLO} lrac{ZWSP}"),
            Agent(id="dave", name="Dave"),
            Agent(id="erin", name="Erin", active=False),
        ]
    )
    roster.upsert([Agent(id="zoe", name="Zoe", tenant="globex")])
    ws.history.close()
    return root / "data"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with service(routed_data_dir(tmp_path_factory.mktemp("review-routing")), **SMALL_HISTORY) as test_client:
        yield test_client


def pending_review(client: TestClient, ticket_id: str) -> str:
    assert post(client, "generic", {"id": ticket_id, "subject": MIXED[0], "body": MIXED[1]}).status_code == 202
    Worker(runtime_of(client), threading.Event()).run_until_idle()
    [item] = [i for i in client.get("/api/reviews", headers=AUTH).json()["items"] if i["ticket_id"] == ticket_id]
    return str(item["id"])


def test_the_review_shows_the_suggestion_with_reasons_and_the_tenants_roster(client: TestClient) -> None:
    detail = client.get(f"/api/reviews/{pending_review(client, 'route-show')}", headers=AUTH).json()
    routing = detail["result"]["routing"]
    candidates = [routing["assignee"], *routing["alternatives"]]
    assert len(candidates) == 3 and len({c["agent_id"] for c in candidates}) == 3
    for candidate in candidates:
        assert {"skill_match", "recent_speed", "open_tickets", "on_shift", "load"} <= set(candidate["parts"])
        assert candidate["reason"].startswith(f"{candidate['name']}: ") and candidate["reason"].endswith(".")
    assert {c["agent_id"] for c in candidates} <= {"alice", "bob", "carol", "dave"}
    assignees = detail["assignees"]
    assert assignees["label"] == "assignee"
    # Only this tenant's active agents: no inactive erin, no globex zoe; names cleaned for display.
    assert [(a["id"], a["name"]) for a in assignees["agents"]] == [
        ("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol lrac"), ("dave", "Dave"),
    ]  # fmt: skip
    bob = assignees["agents"][1]
    assert (bob["capacity"], bob["open_tickets"], bob["on_shift"]) == (5, 0, True)
    [carol] = [c for c in candidates if c["agent_id"] == "carol"]  # dave, with no history, ranks last
    assert carol["name"] == "Carol lrac" and carol["reason"].startswith("Carol lrac: ")


@pytest.mark.parametrize(
    ("pick", "why"),
    [("nobody", "not on the roster"), ("zoe", "another tenant's agent"), ("erin", "inactive")],
)
def test_an_assignee_outside_the_tenants_active_roster_is_422_naming_the_label(
    client: TestClient, pick: str, why: str
) -> None:
    review_id = pending_review(client, f"route-bad-{pick}")
    for endpoint in ("approve", "reject"):
        response = client.post(
            f"/api/reviews/{review_id}/{endpoint}", headers=AUTH, json={"reason": "no", "labels": {"assignee": pick}}
        )
        assert response.status_code == 422, f"{why}: {response.text}"
        assert (
            response.json()["detail"] == f"labels.assignee: unknown assignee '{pick}' (known: alice, bob, carol, dave)"
        )
    assert runtime_of(client).reviews.get(review_id).state == "pending"  # type: ignore[union-attr]


def test_the_agents_api_explains_this_tenants_profiles_only(client: TestClient) -> None:
    bob = client.get("/api/agents/bob", headers=AUTH).json()
    assert bob["profile"]["resolved"] == 5 and bob["profile"]["skills"]["queue"] == {"billing": 5.0}
    assert "Profile from 5 resolved tickets" in "\n".join(bob["explanation"])
    assert client.get("/api/agents/bob?tenant=globex", headers=AUTH).status_code == 404
    zoe = client.get("/api/agents/zoe?tenant=globex", headers=AUTH).json()
    assert zoe["profile"] is None and zoe["agent"]["name"] == "Zoe"


def test_a_rejection_keeps_the_picked_assignee_too(client: TestClient) -> None:
    review_id = pending_review(client, "route-reject")
    response = client.post(
        f"/api/reviews/{review_id}/reject", headers=AUTH, json={"reason": "wrong", "labels": {"assignee": "carol"}}
    )
    assert response.status_code == 200, response.text
    stored = runtime_of(client).components.history.get_ticket("default", "route-reject")
    assert stored is not None and stored.labels["assignee"] == "carol"
    assert stored.label_source("assignee") == "human_corrected"


def test_a_changed_assignee_teaches_the_next_profile_build_and_never_the_classifier(client: TestClient) -> None:
    runtime = runtime_of(client)
    review_id = pending_review(client, "route-pick")
    suggested = client.get(f"/api/reviews/{review_id}", headers=AUTH).json()["result"]["routing"]["assignee"]
    assert suggested["agent_id"] != "dave"
    response = client.post(f"/api/reviews/{review_id}/approve", headers=AUTH, json={"labels": {"assignee": " dave "}})
    assert response.status_code == 200, response.text

    history = runtime.components.history
    stored = history.get_ticket("default", "route-pick")
    assert stored is not None and stored.trainable_labels()["assignee"] == "dave"
    assert stored.label_source("assignee") == "human_corrected"
    [event] = [row for row in history.audit_rows("route-pick") if row["event"] == "review"]
    assert event["detail"]["corrected"] == {"assignee": "dave"}
    assert event["detail"]["label_sources"]["assignee"] == "human_corrected"

    # The service's next retrain (queued after enough decisions, or on schedule) rebuilds the profiles first.
    assert runtime.components.routing.profiles("default").agents.get("dave") is None  # type: ignore[union-attr]
    retrain = due_after_labels(history, "default", threshold=1)
    assert retrain is not None
    runtime.queue.enqueue(retrain)
    Worker(runtime, threading.Event()).run_until_idle()
    [done] = [row for row in history.audit_rows() if row["event"] == "retrained"]
    assert done["detail"]["routing_profiles"] == 12 + 2  # the history, the rejected pick (carol) and this one
    dave = runtime.components.routing.profiles("default").agents["dave"]  # type: ignore[union-attr]
    assert dave.resolved == 1 and dave.skills["queue"]

    # The same retrain trained a classifier candidate without the person label: the approved ticket joined with its
    # confirmed classification; the rejected one, whose only human label is the person, did not join at all.
    [candidate] = [r for r in runtime.components.registry.list("default") if r.version == done["detail"]["version"]]
    assert candidate.n_train == 12 + 1 and "queue" in candidate.report["fields"]
    assert "assignee" not in candidate.report["fields"]

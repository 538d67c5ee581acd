"""A reviewer's assignee pick reaches the helpdesk, and our own live assignments move the open load: the real app
over the routed test history, write-back live to a fake Zendesk and Jira on 127.0.0.1, the queue drained in-process.

The pick is queued with the decision (one transaction, see knowledge.reviews.ReviewBook.decide) as an `assign`
write-back, only where the helpdesk opts in (`CASEWORKER_<HELPDESK>_ASSIGN`), in the roster's id for that helpdesk.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.history import History
from knowledge.jobs import NewJob
from knowledge.roster import Roster
from service.worker import Worker
from tests.fake_helpdesk import Call, FakeHelpdesk
from tests.signed_webhooks import AUTH, payload, post, runtime_of, service
from tests.test_review_routing import MIXED, routed_data_dir
from tools.helpdesk.actions import Assignment, WriteBackAction

#: The roster's ids of each agent in the helpdesks (alice..dave; the picker offers these).
IDS = {
    "alice": {"zendesk": "1001", "jira": "acc-alice"},
    "bob": {"zendesk": "1002", "jira": "acc-bob"},
    "carol": {"zendesk": "1003", "jira": "acc-carol"},
    "dave": {"zendesk": "1004", "jira": "acc-dave"},
}


@pytest.fixture(scope="module")
def helpdesk() -> Iterator[FakeHelpdesk]:
    with FakeHelpdesk() as fake:
        yield fake


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, helpdesk: FakeHelpdesk) -> Iterator[TestClient]:
    data_dir = routed_data_dir(tmp_path_factory.mktemp("review-assign"))
    history = History(data_dir / "history.sqlite3")
    roster = Roster(history)
    roster.upsert([a.model_copy(update={"helpdesk_ids": IDS[a.id]}) for a in roster.agents("default") if a.id in IDS])
    history.close()
    live: dict[str, Any] = {}
    for name in ("zendesk", "jira", "freshdesk"):
        live |= {f"{name}_writeback": True, f"{name}_url": helpdesk.url, f"{name}_api_token": "token"}
        live |= {f"{name}_email": "bot@acme.test"} if name != "freshdesk" else {f"{name}_api_key": "key"}
    # Zendesk and Jira opt in to assignment; Freshdesk writes back live but leaves assignees alone.
    with service(data_dir, zendesk_assign=True, jira_assign=True, **live) as test_client:
        yield test_client


def drain(client: TestClient) -> int:
    return Worker(runtime_of(client), threading.Event()).run_until_idle()


def pending_review(client: TestClient, source: str, external_id: str) -> tuple[str, str]:
    """(review id, the suggested assignee) of a fresh draft for review, its triage write-back sent."""
    assert post(client, source, payload(source, external_id, MIXED[1], MIXED[0])).status_code == 202
    drain(client)
    items = client.get("/api/reviews", headers=AUTH).json()["items"]
    [item] = [i for i in items if i["ticket_id"] == f"{source}:{external_id}"]
    detail = client.get(f"/api/reviews/{item['id']}", headers=AUTH).json()
    return str(item["id"]), str(detail["result"]["routing"]["assignee"]["agent_id"])


def assign_jobs(client: TestClient, ticket_id: str) -> list[WriteBackAction]:
    jobs = runtime_of(client).queue.list(kind="writeback", limit=1000)
    actions = [WriteBackAction.model_validate_json(job.payload) for job in jobs if job.ticket_id == ticket_id]
    return [action for action in actions if action.kind == "assign"]


def calls_for(helpdesk: FakeHelpdesk, path: str) -> list[Call]:
    return [call for call in helpdesk.calls if call.path == path]


def test_a_zendesk_reviewer_pick_is_queued_with_the_approval_and_assigns_by_the_rosters_id(
    client: TestClient, helpdesk: FakeHelpdesk
) -> None:
    review_id, suggested = pending_review(client, "zendesk", "5101")
    path = "/api/v2/tickets/5101.json"
    [triage] = calls_for(helpdesk, path)
    assert triage.json["ticket"]["assignee_id"] == int(IDS[suggested]["zendesk"])  # the suggestion, at triage time
    assert suggested != "dave"

    answer = client.post(f"/api/reviews/{review_id}/approve", headers=AUTH, json={"labels": {"assignee": "dave"}})
    assert answer.status_code == 200, answer.text
    # Stored with the decision: the job is there before any worker ran.
    [queued] = assign_jobs(client, "zendesk:5101")
    assert queued.assignment == Assignment(agent_id="dave", helpdesk_id="1004", team=queued.assignment.team)  # type: ignore[union-attr]

    assert drain(client) == 2  # the approved reply and the assignment
    sent = calls_for(helpdesk, path)[1:]
    assert {"assignee_id": 1004} in [call.json["ticket"] for call in sent]
    assert [c.json["ticket"]["comment"]["public"] for c in sent if "comment" in c.json["ticket"]] == [True]
    # Our own live assignment counts in dave's open load at once.
    assert runtime_of(client).assignments.get("default", "zendesk:5101").agent_id == "dave"  # type: ignore[union-attr]


def test_a_jira_reviewer_pick_on_a_rejection_assigns_by_account_id(client: TestClient, helpdesk: FakeHelpdesk) -> None:
    review_id, suggested = pending_review(client, "jira", "SUP-51")
    pick = "carol" if suggested != "carol" else "bob"
    answer = client.post(
        f"/api/reviews/{review_id}/reject", headers=AUTH, json={"reason": "wrong", "labels": {"assignee": pick}}
    )
    assert answer.status_code == 200, answer.text
    assert drain(client) == 1  # no reply for a rejection; the assignment alone
    path = "/rest/api/3/issue/SUP-51/assignee"
    assert [call.json for call in calls_for(helpdesk, path)] == [
        {"accountId": IDS[suggested]["jira"]},  # triage time
        {"accountId": IDS[pick]["jira"]},  # the reviewer's pick
    ]
    assert len(calls_for(helpdesk, "/rest/servicedeskapi/request/SUP-51/comment")) == 1  # the triage note only


def test_no_assignment_job_for_the_suggested_assignee_or_a_helpdesk_without_opt_in(client: TestClient) -> None:
    review_id, suggested = pending_review(client, "zendesk", "5102")
    answer = client.post(f"/api/reviews/{review_id}/approve", headers=AUTH, json={"labels": {"assignee": suggested}})
    assert answer.status_code == 200, answer.text
    assert assign_jobs(client, "zendesk:5102") == []

    review_id, _ = pending_review(client, "freshdesk", "5103")
    answer = client.post(f"/api/reviews/{review_id}/approve", headers=AUTH, json={"labels": {"assignee": "dave"}})
    assert answer.status_code == 200, answer.text
    assert assign_jobs(client, "freshdesk:5103") == []
    drain(client)


@pytest.fixture
def fresh(tmp_path: Path, helpdesk: FakeHelpdesk) -> Iterator[TestClient]:
    """The app over an empty data dir (write-back jobs need no model) with one agent, Zendesk live and assigning."""
    live = {"zendesk_writeback": True, "zendesk_url": helpdesk.url, "zendesk_email": "bot@acme.test",
            "zendesk_api_token": "token", "zendesk_assign": True}  # fmt: skip
    with service(tmp_path / "data", **live) as test_client:
        roster = [{"id": "erik", "name": "Erik", "helpdesk_ids": {"zendesk": "1005"}}]
        assert test_client.post("/api/agents/import", headers=AUTH, json=roster).status_code == 200
        yield test_client


def open_tickets(client: TestClient, agent_id: str) -> int:
    return int(client.get(f"/api/agents/{agent_id}", headers=AUTH).json()["open_tickets"])


def queue_assignment(client: TestClient, ticket: str, helpdesk_id: str | None) -> None:
    action = WriteBackAction(kind="triage", source="zendesk", tenant="default", ticket_id=f"zendesk:{ticket}",
                             external_id=ticket, note="Caseworker triage",
                             assignment=Assignment(agent_id="erik", helpdesk_id=helpdesk_id))  # fmt: skip
    job = NewJob(kind="writeback", source="zendesk", delivery_id=f"writeback:test-{ticket}:triage", tenant="default",
                 ticket_id=action.ticket_id, payload=action.model_dump_json())  # fmt: skip
    runtime_of(client).queue.enqueue(job)
    assert drain(client) == 1


def test_our_live_assignment_opens_the_agents_load_and_the_helpdesks_closing_event_ends_it(
    fresh: TestClient, helpdesk: FakeHelpdesk
) -> None:
    assert open_tickets(fresh, "erik") == 0
    queue_assignment(fresh, "5199", "1005")
    assert calls_for(helpdesk, "/api/v2/tickets/5199.json")[-1].json["ticket"]["assignee_id"] == 1005
    assert open_tickets(fresh, "erik") == 1

    # Zendesk reports the ticket solved, after our assignment: erik's load drops back.
    solved = payload("zendesk", "5199", "Thanks, all sorted.")
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    solved |= {"type": "zen:event-type:ticket.status_changed", "time": later}
    solved["detail"] |= {"assignee_id": "1005", "status": "SOLVED"}
    assert post(fresh, "zendesk", solved).status_code in (200, 202)
    assert open_tickets(fresh, "erik") == 0
    assert runtime_of(fresh).assignments.get("default", "zendesk:5199").state == "closed"  # type: ignore[union-attr]


def test_an_assignment_the_helpdesk_never_got_moves_no_load(fresh: TestClient, helpdesk: FakeHelpdesk) -> None:
    queue_assignment(fresh, "5198", None)  # erik has no id in this helpdesk: nobody was assigned
    assert "assignee_id" not in calls_for(helpdesk, "/api/v2/tickets/5198.json")[-1].json["ticket"]
    assert open_tickets(fresh, "erik") == 0

"""The undo window of an approval, through the API with a real graph, queue and fake Zendesk: an approval
is applied (and its reply sent) only after the window; undo within it cancels the queued decision so
nothing reaches the helpdesk and the review is pending again; after it, undo answers 409."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from config.components import Components
from knowledge.jobs import LeaseLost
from tests.fake_helpdesk import FakeHelpdesk
from tests.service_harness import (
    AUTH,
    MIXED,
    Clock,
    drain,
    is_public_reply,
    post_zendesk,
    runtime_of,
    service_client,
)
from tools.helpdesk.normalise import html_to_text

WINDOW = 10.0


@pytest.fixture
def helpdesk() -> Iterator[FakeHelpdesk]:
    with FakeHelpdesk() as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(trained_workspace: Components, helpdesk: FakeHelpdesk, clock: Clock) -> Iterator[TestClient]:
    with service_client(trained_workspace, helpdesk, review_undo_s=WINDOW) as test_client:
        runtime = runtime_of(test_client)
        runtime.queue.clock = clock
        runtime.context.clock = lambda: datetime.fromtimestamp(clock(), UTC)
        yield test_client


def _pending_review(client: TestClient, clock: Clock, zendesk_id: str) -> dict:
    post_zendesk(client, zendesk_id, *MIXED, f"inv-{zendesk_id}")
    assert drain(client) == 2  # triage + its internal note
    clock.freeze()  # from here on only the test moves time
    items = client.get("/api/reviews", headers=AUTH).json()["items"]
    assert [item["ticket_id"] for item in items] == [f"zendesk:{zendesk_id}"]
    return items[0]


def _approve(client: TestClient, review_id: str, reply: str) -> dict:
    response = client.post(f"/api/reviews/{review_id}/approve", headers=AUTH, json={"reply": reply, "reviewer": "sam"})
    assert response.status_code == 200, response.text
    return response.json()


def _replies(helpdesk: FakeHelpdesk) -> list[str]:
    # Zendesk comments go as HTML: the reply's text is the one paragraph of its html_body.
    return [html_to_text(c.json["ticket"]["comment"]["html_body"]) for c in helpdesk.calls if is_public_reply(c)]


def _paused(client: TestClient, job_id: str) -> bool:
    return bool(runtime_of(client).graph.get_state({"configurable": {"thread_id": job_id}}).interrupts)


def test_an_approval_is_sent_only_after_its_undo_window(
    client: TestClient, helpdesk: FakeHelpdesk, clock: Clock
) -> None:
    item = _pending_review(client, clock, "5101")
    approved = _approve(client, item["id"], "Hi Ada, here is a fresh reset link.")
    assert approved["review"]["state"] == "scheduled"
    assert approved["undo_s"] == pytest.approx(WINDOW, abs=0.01)
    assert client.get("/api/reviews", headers=AUTH).json()["items"] == []  # out of the queue meanwhile
    again = client.post(f"/api/reviews/{item['id']}/approve", headers=AUTH, json={})
    assert again.status_code == 409 and "already approved by sam" in again.json()["detail"]

    clock.advance(WINDOW - 1)
    assert drain(client) == 0  # the decision job waits for its not-before time
    assert _replies(helpdesk) == [] and _paused(client, item["job_id"])

    clock.advance(2)  # the window has passed: nobody needs the browser open for the reply to go out
    assert drain(client) == 2  # the decision (resumes the graph), then the reply's write-back
    assert _replies(helpdesk) == ["Hi Ada, here is a fresh reset link."]
    runtime = runtime_of(client)
    decided = runtime.reviews.get(item["id"])
    assert decided is not None and decided.state == "edited" and decided.reviewer == "sam"
    assert not _paused(client, item["job_id"])
    late = client.post(f"/api/reviews/{item['id']}/undo", headers=AUTH, json={"by": "sam"})
    assert late.status_code == 409 and "no approval to undo" in late.json()["detail"]
    events = [row["event"] for row in runtime.components.history.audit_rows("zendesk:5101")]
    assert events.count("review_scheduled") == 1 and events.count("review") == 1 and "decision_applied" in events
    results = runtime.components.history.query("SELECT COUNT(*) AS n FROM results WHERE ticket_id = 'zendesk:5101'", ())
    assert results[0]["n"] == 1


def test_undo_within_the_window_cancels_the_reply_and_reopens_the_review(
    client: TestClient, helpdesk: FakeHelpdesk, clock: Clock
) -> None:
    item = _pending_review(client, clock, "5102")
    approved = _approve(client, item["id"], "First answer, sent by mistake.")
    job_id = runtime_of(client).reviews.get(item["id"]).undo_job_id  # type: ignore[union-attr]
    clock.advance(WINDOW / 2)

    undone = client.post(f"/api/reviews/{item['id']}/undo", headers=AUTH, json={"by": "sam"})
    assert undone.status_code == 200, undone.text
    assert undone.json()["review"]["state"] == "pending"
    assert undone.json()["withdrawn"]["reply"] == "First answer, sent by mistake."
    runtime = runtime_of(client)
    cancelled = runtime.queue.get(job_id)
    assert cancelled is not None and cancelled.state == "cancelled" and approved["review"]["undo_job_id"] == job_id
    assert [i["id"] for i in client.get("/api/reviews", headers=AUTH).json()["items"]] == [item["id"]]
    assert _paused(client, item["job_id"])  # the graph never resumed: nothing to roll back

    clock.advance(3600)
    assert drain(client) == 0  # a cancelled job is never claimed
    assert _replies(helpdesk) == []
    assert runtime.components.history.get_ticket("default", "zendesk:5102") is None  # no training label either
    again = client.post(f"/api/reviews/{item['id']}/undo", headers=AUTH, json={})
    assert again.status_code == 409

    _approve(client, item["id"], "The right answer.")
    clock.advance(WINDOW + 1)
    assert drain(client) == 2
    assert _replies(helpdesk) == ["The right answer."]
    events = [row for row in runtime.components.history.audit_rows("zendesk:5102")]
    undo_event = next(row for row in events if row["event"] == "review_undone")
    assert undo_event["detail"]["by"] == "sam" and undo_event["detail"]["job_id"] == job_id
    assert [row["detail"]["reply"] for row in events if row["event"] == "review"] == ["The right answer."]


def test_undo_after_the_window_answers_409_and_the_reply_still_goes(
    client: TestClient, helpdesk: FakeHelpdesk, clock: Clock
) -> None:
    item = _pending_review(client, clock, "5103")
    _approve(client, item["id"], "On its way.")
    clock.advance(WINDOW + 0.5)
    late = client.post(f"/api/reviews/{item['id']}/undo", headers=AUTH, json={"by": "sam"})
    assert late.status_code == 409 and "undo window has closed" in late.json()["detail"]
    assert drain(client) == 2
    assert _replies(helpdesk) == ["On its way."]


def test_a_rejection_is_final_at_once(client: TestClient, clock: Clock) -> None:
    item = _pending_review(client, clock, "5104")
    rejected = client.post(f"/api/reviews/{item['id']}/reject", headers=AUTH, json={"reason": "wrong article"})
    assert rejected.status_code == 200 and rejected.json()["review"]["state"] == "rejected"
    assert client.post(f"/api/reviews/{item['id']}/undo", headers=AUTH, json={}).status_code == 409
    assert client.post("/api/reviews/r-nope/undo", headers=AUTH, json={}).status_code == 404


def test_a_decision_job_that_died_after_applying_is_not_applied_twice(
    client: TestClient, helpdesk: FakeHelpdesk, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = _pending_review(client, clock, "5105")
    _approve(client, item["id"], "Only once, please.")
    clock.advance(WINDOW + 1)
    runtime = runtime_of(client)
    job = runtime.queue.claim(("decision",))
    assert job is not None
    real_complete = runtime.queue.complete

    def crash(*args: object, **kwargs: object) -> None:
        raise LeaseLost("worker died before completing the decision job")

    monkeypatch.setattr(runtime.queue, "complete", crash)
    with pytest.raises(LeaseLost):
        runtime.run(job)  # the decision is stored (with its reply job); the decision job is not completed
    monkeypatch.setattr(runtime.queue, "complete", real_complete)

    clock.advance(runtime.settings.job_lease_s + 1)  # its lease lapses: another worker takes it again
    assert drain(client) == 2  # the decision job (skipped: already applied) and the one reply
    assert _replies(helpdesk) == ["Only once, please."]
    events = [row["event"] for row in runtime.components.history.audit_rows("zendesk:5105")]
    assert events.count("review") == 1 and "decision_skipped" in events

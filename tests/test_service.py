"""The service end to end in-process: a signed Zendesk webhook → queue → worker runs the graph → write-back
to a fake Zendesk on 127.0.0.1 → review API (interrupt/resume) → the reply reaches the helpdesk."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.components import Components
from config.settings import Settings
from service.app import create_app
from service.auth import UnsafeBind, check_bind
from service.runtime import ServiceRuntime
from service.worker import Worker
from tests.fake_helpdesk import FakeHelpdesk
from tests.zendesk_delivery import signed_zendesk_trigger

SECRET = "zendesk-secret"
TOKEN = "review-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def helpdesk() -> Iterator[FakeHelpdesk]:
    with FakeHelpdesk() as fake:
        yield fake


@pytest.fixture
def client(trained_workspace: Components, helpdesk: FakeHelpdesk) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=trained_workspace.settings.data_dir,
        zendesk_secret=SECRET,
        api_token=TOKEN,
        zendesk_writeback=True,
        zendesk_url=helpdesk.url,
        zendesk_email="bot@example.com",
        zendesk_api_token="zd-token",
        # These tests decide at once; tests/test_review_undo.py covers the undo window.
        review_undo_s=0,
    )
    trained_workspace.history.close()
    with TestClient(create_app(settings, workers=0)) as test_client:
        yield test_client


def _runtime(client: TestClient) -> ServiceRuntime:
    return client.app.state.runtime  # type: ignore[attr-defined]


def _drain(client: TestClient) -> int:
    return Worker(_runtime(client), threading.Event()).run_until_idle()


def post_zendesk(client: TestClient, ticket_id: str, subject: str, body: str, invocation: str) -> dict:
    raw, headers = signed_zendesk_trigger(SECRET, ticket_id, subject, body, invocation)
    response = client.post("/webhooks/zendesk", content=raw, headers=headers)
    assert response.status_code in (200, 202), response.text
    return response.json()


# Mixes two intents, so the policy wants a human: draft_for_review.
MIXED = ("Invoice and login", "I need the invoice but I can't log in, the password reset email is missing.")


def test_auto_resolved_ticket_gets_note_tags_and_reply(client: TestClient, helpdesk: FakeHelpdesk) -> None:
    post_zendesk(client, "4400", "Cannot reset my password", "The reset email never arrives.", "inv-0")
    assert _drain(client) == 3  # triage, then the note + tags and the reply
    calls = helpdesk.wait_for(lambda calls: len(calls) >= 2)
    comments = {call.json["ticket"]["comment"]["public"]: call.json["ticket"] for call in calls}
    assert "caseworker_category__password_reset" in comments[False]["additional_tags"]
    assert "Reply sent" in comments[False]["comment"]["html_body"]
    assert "Hi Ada" in comments[True]["comment"]["html_body"]
    assert _runtime(client).reviews.list() == []


def test_webhook_to_review_to_reply_on_the_helpdesk(client: TestClient, helpdesk: FakeHelpdesk) -> None:
    accepted = post_zendesk(client, "4401", *MIXED, "inv-1")
    assert accepted["status"] == "queued"
    again = post_zendesk(client, "4401", *MIXED, "inv-1")
    assert again == {"job_id": accepted["job_id"], "status": "duplicate"}
    # The update event our own note will cause: a new invocation id, the same subject and body.
    echo = post_zendesk(client, "4401", *MIXED, "inv-1-update")
    assert echo == {"job_id": accepted["job_id"], "status": "duplicate"}
    runtime = _runtime(client)
    assert runtime.queue.depth()["queued"] == 1
    assert runtime.components.history.latest_result("default", "zendesk:4401") is None  # 202 came before triage

    assert _drain(client) == 2  # the triage job, then its write-back (note + tags)
    note = helpdesk.wait_for(lambda calls: len(calls) >= 1)[0]
    assert note.method == "PUT" and note.path == "/api/v2/tickets/4401.json"
    assert note.json["ticket"]["comment"]["public"] is False
    assert "Suggested reply (awaiting review)" in note.json["ticket"]["comment"]["html_body"]
    assert "caseworker_action__draft_for_review" not in note.json["ticket"]["additional_tags"]
    assert any(tag.startswith("caseworker_queue__") for tag in note.json["ticket"]["additional_tags"])

    listed = client.get("/api/reviews", headers=AUTH).json()["items"]
    assert [item["ticket_id"] for item in listed] == ["zendesk:4401"]
    review_id = listed[0]["id"]
    detail = client.get(f"/api/reviews/{review_id}", headers=AUTH).json()
    assert detail["result"]["decision"]["action"] == "draft_for_review"
    assert detail["ticket"]["extra"]["external_id"] == "4401"
    assert runtime.graph.get_state({"configurable": {"thread_id": listed[0]["job_id"]}}).interrupts

    approved = client.post(
        f"/api/reviews/{review_id}/approve",
        headers=AUTH,
        json={"reply": "Hi Ada, here is a fresh reset link.", "labels": {"priority": "P2"}, "reviewer": "sam"},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["review"]["state"] == "edited"
    conflict = client.post(f"/api/reviews/{review_id}/approve", headers=AUTH, json={})
    assert conflict.status_code == 409 and "already edited" in conflict.json()["detail"]

    assert _drain(client) == 1
    reply = helpdesk.calls[-1]
    assert reply.json["ticket"]["comment"] == {
        "html_body": "<p>Hi Ada, here is a fresh reset link.</p>",
        "public": True,
    }

    history = runtime.components.history
    events = [row for row in history.audit_rows("zendesk:4401") if row["event"] == "review"]
    assert events[0]["detail"]["outcome"] == "edited" and events[0]["detail"]["labels"]["priority"] == "P2"
    stored = history.get_ticket("default", "zendesk:4401")
    assert stored is not None and stored.reply == "Hi Ada, here is a fresh reset link."
    assert stored.labels["priority"] == "P2"  # the correction is a training label now
    hits = runtime.components.store.similar_tickets(runtime.components.embedder.embed([MIXED[1]])[0], "default", 10)
    assert "zendesk:4401" in [hit.id for hit in hits]  # and retrieval finds the reviewed answer
    assert not runtime.graph.get_state({"configurable": {"thread_id": listed[0]["job_id"]}}).values


def test_a_holding_reply_is_marked_no_grounded_answer_in_the_review_list_and_detail(
    client: TestClient, helpdesk: FakeHelpdesk
) -> None:
    # The KB has no refund article: the draft is a holding reply, and the reviewer sees why.
    post_zendesk(client, "4410", "Charged twice", "My card was charged twice this month, please refund one.", "inv-h")
    _drain(client)
    [item] = client.get("/api/reviews", headers=AUTH).json()["items"]
    assert item["grounded"] is False
    assert "no KB article of category refund_request" in item["grounding_note"]
    detail = client.get(f"/api/reviews/{item['id']}", headers=AUTH).json()
    draft = detail["result"]["draft"]
    assert draft["grounded"] is False and draft["grounding_note"] == item["grounding_note"]
    assert draft["citations"] == [] and "invoice number" in draft["body"]
    note = helpdesk.wait_for(lambda calls: len(calls) >= 1)[0]
    assert (
        "Suggested reply (awaiting review), a holding reply: no grounded answer (no KB article of category"
        in (note.json["ticket"]["comment"]["html_body"])
    )


def test_a_grounded_draft_is_marked_grounded_in_the_review_list(client: TestClient) -> None:
    post_zendesk(client, "4411", *MIXED, "inv-g")
    _drain(client)
    [item] = client.get("/api/reviews", headers=AUTH).json()["items"]
    assert item["grounded"] is True and item["grounding_note"] is None


def test_reject_needs_a_reason_and_sends_nothing(client: TestClient, helpdesk: FakeHelpdesk) -> None:
    post_zendesk(client, "4402", *MIXED, "inv-2")
    _drain(client)
    review_id = client.get("/api/reviews", headers=AUTH).json()["items"][0]["id"]
    assert client.post(f"/api/reviews/{review_id}/reject", headers=AUTH, json={}).status_code == 422
    rejected = client.post(
        f"/api/reviews/{review_id}/reject",
        headers=AUTH,
        json={"reason": "wrong article", "labels": {"queue": "billing"}},
    )
    assert rejected.status_code == 200 and rejected.json()["review"]["state"] == "rejected"
    calls_before = len(helpdesk.calls)
    assert _drain(client) == 0  # no reply job
    assert len(helpdesk.calls) == calls_before
    decided = _runtime(client).reviews.get(review_id)
    assert decided is not None and decided.as_dict()["decision"]["reason"] == "wrong article"
    assert client.get("/api/reviews", headers=AUTH).json()["items"] == []


def test_decision_survives_a_lost_checkpoint(client: TestClient) -> None:
    """A worker that died after storing the result but before saving the pause: the decision still lands."""
    post_zendesk(client, "4403", *MIXED, "inv-3")
    _drain(client)
    item = client.get("/api/reviews", headers=AUTH).json()["items"][0]
    runtime = _runtime(client)
    runtime.checkpointer.delete_thread(item["job_id"])
    approved = client.post(f"/api/reviews/{item['id']}/approve", headers=AUTH, json={})
    assert approved.status_code == 200 and approved.json()["review"]["state"] == "approved"
    assert runtime.queue.depth()["queued"] == 1  # the reply's write-back


def test_api_and_page_need_the_token(client: TestClient) -> None:
    assert client.get("/api/reviews").status_code == 401
    assert client.get("/api/reviews", headers={"Authorization": "Bearer nope"}).status_code == 401
    page = client.get("/review", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/review/login"
    assert client.post("/review/login", data={"token": "nope"}).status_code == 401
    logged_in = client.post("/review/login", data={"token": TOKEN}, follow_redirects=False)
    assert logged_in.status_code == 303 and "httponly" in logged_in.headers["set-cookie"].lower()
    assert client.get("/review").status_code == 200
    assert client.get("/api/reviews").status_code == 200  # the cookie works for the page's own calls
    assert client.get("/healthz").json()["status"] == "ok"


def test_metrics_count_jobs_latency_and_reviews(client: TestClient) -> None:
    post_zendesk(client, "4404", "Need a copy of my invoice", "Where is the October invoice?", "inv-4")
    _drain(client)
    text = client.get("/metrics").text
    assert 'caseworker_jobs{kind="triage",state="done"} 1' in text
    assert "caseworker_tickets_processed_total 1" in text
    assert "caseworker_triage_latency_seconds_count 1" in text
    assert 'caseworker_triage_latency_seconds_bucket{le="+Inf"} 1' in text
    assert "caseworker_llm_calls_total 0" in text


def test_serving_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "t" * 32)
    with pytest.raises(UnsafeBind, match="CASEWORKER_API_TOKEN"):
        check_bind("0.0.0.0", None)


def test_api_docs_work_offline(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/webhooks/zendesk", "/webhooks/generic", "/api/reviews", "/metrics"} <= set(paths)


def test_a_changed_ticket_supersedes_its_pending_review(client: TestClient) -> None:
    post_zendesk(client, "4405", *MIXED, "inv-5")
    _drain(client)
    first = client.get("/api/reviews", headers=AUTH).json()["items"][0]
    post_zendesk(client, "4405", MIXED[0], MIXED[1] + " Also the invoice email bounced.", "inv-5-update")
    _drain(client)
    pending = client.get("/api/reviews", headers=AUTH).json()["items"]
    assert [item["ticket_id"] for item in pending] == ["zendesk:4405"] and pending[0]["id"] != first["id"]
    stale = client.post(f"/api/reviews/{first['id']}/approve", headers=AUTH, json={})
    assert stale.status_code == 409 and "superseded by a newer triage" in stale.json()["detail"]
    assert not _runtime(client).graph.get_state({"configurable": {"thread_id": first["job_id"]}}).values

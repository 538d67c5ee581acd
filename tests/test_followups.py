"""A customer's new message on a known ticket is triaged again, with the thread; it supersedes the pending
review (and drops its paused run) and can escalate. Agent comments, private notes and our own notes and tag
updates stay ignored. Real app, real queue, real worker, real graph."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.schemas import Message, Ticket
from knowledge.text import ticket_model_text
from service.worker import Worker
from tests.signed_webhooks import AUTH, job_count, post, runtime_of, service, trained_data_dir

# Two intents at once: the policy wants a human (draft_for_review), so a review is pending.
SUBJECT = "Invoice and login"
OPENING = "I need the invoice but I can't log in, the password reset email is missing."
CANCEL = "Still nothing after two days. We will cancel our subscription if this is not fixed today."
VIP = "vip-7"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with service(trained_data_dir(tmp_path_factory.mktemp("followups"))) as test_client:
        # The helpdesks name only the requester; the history knows the account is an enterprise one.
        known = Ticket(id="crm-vip", subject="Seats", body="Add seats", customer={"id": VIP, "tier": "enterprise"})
        runtime_of(test_client).components.history.upsert_tickets([known])
        yield test_client


def _drain(client: TestClient) -> int:
    return Worker(runtime_of(client), threading.Event()).run_until_idle()


def _pending(client: TestClient, ticket_id: str) -> list[dict[str, Any]]:
    items = client.get("/api/reviews", headers=AUTH).json()["items"]
    return [item for item in items if item["ticket_id"] == ticket_id]


def _queued_ticket(client: TestClient, job_id: str) -> Ticket:
    job = runtime_of(client).queue.get(job_id)
    assert job is not None
    return Ticket.model_validate_json(job.payload)


def _paused(client: TestClient, job_id: str) -> bool:
    return bool(runtime_of(client).graph.get_state({"configurable": {"thread_id": job_id}}).values)


# --- Zendesk ticket events ---------------------------------------------------------------------------


def zendesk_event(kind: str, ticket_id: str, comment: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"comment": comment} if comment is not None else {}
    return {"type": f"zen:event-type:ticket.{kind}", "id": f"ev-{kind}", "subject": f"zen:ticket:{ticket_id}",
            "detail": {"id": ticket_id, "subject": SUBJECT, "description": OPENING, "requester_id": VIP,
                       "created_at": "2026-11-29T06:00:00Z", "tags": ["web"]},
            "event": event}  # fmt: skip


def comment(body: str, *, staff: bool, public: bool = True, author: str = VIP) -> dict[str, Any]:
    return {"id": 99, "body": body, "is_public": public, "author": {"id": author, "is_staff": staff, "name": "x"}}


def test_zendesk_comment_from_the_customer_retriages_with_the_thread(client: TestClient) -> None:
    created = post(client, "zendesk", zendesk_event("created", "701"))
    assert created.status_code == 202, created.text
    _drain(client)
    [first] = _pending(client, "zendesk:701")
    assert _paused(client, first["job_id"])

    jobs = job_count(client)
    agent = post(client, "zendesk", zendesk_event("comment_added", "701", comment("Looking into it", staff=True)))
    note = comment("Caseworker triage: draft_for_review (not_auto_resolvable)", staff=True, public=False, author="1")
    ours = post(client, "zendesk", zendesk_event("comment_added", "701", note))
    tags = post(client, "zendesk", zendesk_event("tags_changed", "701"))  # our tag update
    first_comment = post(client, "zendesk", zendesk_event("comment_added", "701", comment(OPENING, staff=False)))
    assert (agent.status_code, agent.json()["status"]) == (200, "ignored")
    assert (ours.status_code, ours.json()["status"]) == (200, "ignored") and "private" in ours.json()["reason"]
    assert (tags.status_code, tags.json()) == (200, {"status": "duplicate", "job_id": created.json()["job_id"]})
    assert first_comment.json()["status"] == "duplicate"  # Zendesk reports the description as a comment too
    assert job_count(client) == jobs

    follow_up = zendesk_event("comment_added", "701", comment(CANCEL, staff=False))
    reply = post(client, "zendesk", follow_up, delivery="inv-cancel")
    assert reply.status_code == 202, reply.text
    assert post(client, "zendesk", follow_up, delivery="inv-cancel").json()["status"] == "duplicate"
    assert post(client, "zendesk", follow_up).json()["status"] == "duplicate"  # same words, another invocation
    ticket = _queued_ticket(client, reply.json()["job_id"])
    assert ticket.body == CANCEL
    assert ticket.thread == [Message(author="customer", body=OPENING)]

    _drain(client)
    runtime = runtime_of(client)
    superseded = runtime.reviews.get(first["id"])
    assert superseded is not None and superseded.state == "superseded"
    assert not _paused(client, first["job_id"])  # the stale pause is dropped
    result = runtime.components.history.latest_result("default", "zendesk:701")
    assert result is not None and result["classification"]["churn_risk"]["value"] == "high"
    assert (result["decision"]["action"], result["decision"]["reason"]) == ("escalate", "churn_risk_high_value")
    assert _pending(client, "zendesk:701") == []
    stale = client.post(f"/api/reviews/{first['id']}/approve", headers=AUTH, json={})
    assert stale.status_code == 409 and "superseded" in stale.json()["detail"]


def test_zendesk_trigger_latest_comment_by_the_end_user_is_a_follow_up(client: TestClient) -> None:
    def trigger(latest: str, role: str) -> dict[str, Any]:
        return {"ticket": {"id": "702", "subject": SUBJECT, "description": OPENING, "requester": {"id": VIP},
                           "latest_comment": {"body": latest, "author_id": VIP, "author_role": role}}}  # fmt: skip

    created = post(client, "zendesk", trigger(OPENING, "end-user"))
    assert created.status_code == 202
    assert post(client, "zendesk", trigger("Our reply", "agent")).json()["status"] == "duplicate"
    assert post(client, "zendesk", trigger(CANCEL, "admin")).json()["status"] == "duplicate"
    follow_up = post(client, "zendesk", trigger(CANCEL, "end-user"))
    assert follow_up.status_code == 202 and follow_up.json()["job_id"] != created.json()["job_id"]
    ticket = _queued_ticket(client, follow_up.json()["job_id"])
    assert (ticket.body, ticket.thread) == (CANCEL, [Message(author="customer", body=OPENING)])


# --- Intercom ----------------------------------------------------------------------------------------


def intercom(topic: str, conversation_id: str, parts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "conversation", "id": conversation_id, "created_at": 1_795_000_000,
        "source": {"subject": SUBJECT, "body": f"<p>{OPENING}</p>", "author": {"type": "user", "id": VIP}},
    }  # fmt: skip
    if parts is not None:
        item["conversation_parts"] = {"type": "conversation_part.list", "conversation_parts": parts}
    return {"type": "notification_event", "id": f"n-{time.time_ns()}", "topic": topic,
            "created_at": int(time.time()), "data": {"item": item}}  # fmt: skip


def part(author: str, body: str, part_type: str = "comment", at: int = 1_795_000_100) -> dict[str, Any]:
    return {"type": "conversation_part", "part_type": part_type, "body": f"<p>{body}</p>", "created_at": at,
            "author": {"type": author, "id": VIP if author == "user" else "adm-1"}}  # fmt: skip


def test_intercom_user_reply_retriages_and_admin_parts_are_ignored(client: TestClient) -> None:
    assert post(client, "intercom", intercom("conversation.user.created", "801")).status_code == 202
    _drain(client)
    [first] = _pending(client, "intercom:801")

    jobs = job_count(client)
    note = post(client, "intercom", intercom("conversation.admin.noted", "801", [part("admin", "Caseworker", "note")]))
    answer = post(client, "intercom", intercom("conversation.admin.replied", "801", [part("admin", "On it")]))
    empty = post(client, "intercom", intercom("conversation.user.replied", "801", [part("admin", "On it")]))
    assert [r.json()["status"] for r in (note, answer, empty)] == ["ignored"] * 3
    assert job_count(client) == jobs

    parts = [part("admin", "We are looking into it."), part("user", CANCEL, at=1_795_000_200)]
    reply = post(client, "intercom", intercom("conversation.user.replied", "801", parts))
    assert reply.status_code == 202, reply.text
    ticket = _queued_ticket(client, reply.json()["job_id"])
    assert ticket.body == CANCEL
    assert [(m.author, m.body) for m in ticket.thread] == [("customer", OPENING), ("agent", "We are looking into it.")]
    assert ticket.thread[1].at is not None

    _drain(client)
    superseded = runtime_of(client).reviews.get(first["id"])
    assert superseded is not None and superseded.state == "superseded"
    assert not _paused(client, first["job_id"])

    # The next reply carries only its own part: the thread continues from what the last triage saw.
    again = post(client, "intercom", intercom("conversation.user.replied", "801", [part("user", "Any news?")]))
    assert again.status_code == 202, again.text
    later = _queued_ticket(client, again.json()["job_id"])
    assert later.body == "Any news?"
    assert [m.body for m in later.thread] == [OPENING, "We are looking into it.", CANCEL]


def test_a_long_intercom_conversation_keeps_its_newest_messages(client: TestClient) -> None:
    parts = [part("user" if n % 2 else "admin", f"message {n}", at=1_795_000_000 + n) for n in range(80)]
    reply = post(client, "intercom", intercom("conversation.user.replied", "802", parts))
    assert reply.status_code == 202, reply.text
    ticket = _queued_ticket(client, reply.json()["job_id"])
    assert ticket.body == "message 79" and len(ticket.thread) == 50
    assert ticket.thread[-1].body == "message 78"


# --- Jira (Service Management) --------------------------------------------------------------------------


def jira(event: str, key: str, comment: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "timestamp": int(time.time() * 1000), "webhookEvent": event,
        "issue": {"key": key, "fields": {"summary": SUBJECT, "description": OPENING,
                                         "reporter": {"accountId": "rep-1", "accountType": "customer"}}},
    }  # fmt: skip
    if comment is not None:
        body["comment"] = comment
    return body


def jira_comment(text: str, account_type: str, public: bool = True) -> dict[str, Any]:
    adf = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}
    return {"id": "1", "body": adf, "jsdPublic": public, "author": {"accountId": "acc-9", "accountType": account_type}}


def test_jira_customer_comment_is_a_follow_up_and_agent_or_internal_ones_are_ignored(client: TestClient) -> None:
    assert post(client, "jira", jira("jira:issue_created", "SD-1")).status_code == 202
    jobs = job_count(client)
    agent = post(client, "jira", jira("comment_created", "SD-1", jira_comment("Looking", "atlassian")))
    internal = post(client, "jira", jira("comment_created", "SD-1", jira_comment(CANCEL, "customer", public=False)))
    assert [r.json()["status"] for r in (agent, internal)] == ["ignored", "ignored"]
    assert job_count(client) == jobs
    reply = post(client, "jira", jira("comment_created", "SD-1", jira_comment(CANCEL, "customer")))
    assert reply.status_code == 202, reply.text
    ticket = _queued_ticket(client, reply.json()["job_id"])
    assert (ticket.body, ticket.thread) == (CANCEL, [Message(author="customer", body=OPENING)])


# --- what the classifier reads -------------------------------------------------------------------------


def test_the_latest_message_leads_and_earlier_customer_messages_follow() -> None:
    ticket = Ticket(
        id="t", subject="Billing", body="Second: we will cancel our subscription.",
        thread=[Message(body="First: the invoice is wrong."), Message(author="agent", body="Agent: checking.")],
    )  # fmt: skip
    text = ticket_model_text(ticket)
    assert text.index("Second") < text.index("First") and "Agent" not in text
    assert text.startswith("Billing\n\nSecond")

"""Hostile but correctly signed webhook bodies, on every source, through the real app and the real worker:
each gets a 4xx naming what is wrong and queues nothing, or is accepted sanitised and then triages fine.
Never a 5xx (helpdesks retry those forever), never a job that can only die."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.jobs import NewJob
from knowledge.schemas import Ticket
from service.worker import Worker
from tests.signed_webhooks import PATHS, SOURCES, job_count, payload, post, put, runtime_of, service, trained_data_dir

TEXT = "The password reset email never arrives, I clicked forgot password twice."
MIXED = "I need the invoice but I can't log in, the password reset email is missing."


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # One trained service for the module: each test uses its own ticket ids and delivery ids.
    with service(trained_data_dir(tmp_path_factory.mktemp("hostile"))) as test_client:
        yield test_client


_ids = itertools.count(1)


def tid(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def _triaged(client: TestClient, job_id: str) -> Ticket:
    """Run the worker until the queue is empty; the job must be done (no retry, no death) with a result."""
    runtime = runtime_of(client)
    Worker(runtime, threading.Event()).run_until_idle()
    job = runtime.queue.get(job_id)
    assert job is not None and job.state == "done", (job.state, job.last_error) if job else None
    ticket = Ticket.model_validate_json(job.payload)
    assert runtime.components.history.latest_result(ticket.tenant, ticket.id) is not None
    return ticket


def _refused(client: TestClient, source: str, body: dict[str, Any] | bytes, status: int, *words: str) -> None:
    """Posting `body` answers `status` with a detail holding `words`, and queues nothing."""
    before = job_count(client)
    response = post(client, source, body)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert all(word in detail for word in words), detail
    assert job_count(client) == before


@pytest.mark.parametrize("source", SOURCES)
def test_lone_surrogate_is_replaced_and_the_ticket_triages(client: TestClient, source: str) -> None:
    body = put(payload(source, tid("t"), TEXT), PATHS[source][0], TEXT + " \ud800 \udfff end")
    response = post(client, source, body)  # json.dumps writes the surrogates as \ud800 escapes
    assert response.status_code == 202, response.text
    ticket = _triaged(client, response.json()["job_id"])
    assert "\ufffd end" in ticket.body and not any("\ud800" <= ch <= "\udfff" for ch in ticket.body)


@pytest.mark.parametrize("source", SOURCES)
def test_raw_surrogate_bytes_are_not_utf8_and_get_400(client: TestClient, source: str) -> None:
    raw = json.dumps(payload(source, tid("t"), "MARK")).encode().replace(b"MARK", b"\xed\xa0\x80")
    _refused(client, source, raw, 400, "not valid UTF-8")


@pytest.mark.parametrize("source", SOURCES)
def test_nul_and_control_characters_are_removed(client: TestClient, source: str) -> None:
    body = put(payload(source, tid("t"), TEXT), PATHS[source][0], "Password\x00 reset\x1b email\x07 lost\tagain\n")
    response = post(client, source, body)
    assert response.status_code == 202, response.text
    ticket = _triaged(client, response.json()["job_id"])
    assert ticket.body.startswith("Password reset email lost")
    assert not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in ticket.body)


@pytest.mark.parametrize("source", SOURCES)
def test_deep_nesting_under_an_unknown_key_is_400(client: TestClient, source: str) -> None:
    deep: object = "bottom"
    for _ in range(900):
        deep = [deep]
    body = {**payload(source, tid("t"), TEXT), "zz_unknown": {"x": deep}}
    _refused(client, source, body, 400, "nested deeper than 100")


def test_nesting_up_to_the_limit_is_kept_and_triages_through_a_paused_review(client: TestClient) -> None:
    """The generic source keeps unknown keys in `extra`: 98 levels there travel through the queue, pydantic
    and the checkpointer's msgpack (a draft for review pauses the run) without failing."""
    deep: object = "bottom"
    for _ in range(98):
        deep = [deep]
    body = {"id": tid("deep"), "subject": "Invoice and login", "body": MIXED, "zz_unknown": deep}
    response = post(client, "generic", body)
    assert response.status_code == 202, response.text
    ticket = _triaged(client, response.json()["job_id"])
    assert ticket.extra["zz_unknown"] == deep
    assert runtime_of(client).reviews.list(ticket_id=ticket.id)  # paused for review, state checkpointed


# (value planted at the created_at path, Intercom's epoch-seconds equivalent)
DATES = {
    "year 9999": ("9999-12-31T23:59:59Z", 253_402_300_799),
    "year 1": ("0001-01-01T00:00:00Z", -62_135_596_800),
    "absurd epoch": ("99999999999999999999", 99_999_999_999_999_999),
}


@pytest.mark.parametrize("date", DATES)
@pytest.mark.parametrize("source", [s for s in SOURCES if s != "generic"])
def test_helpdesk_dates_out_of_range_are_unknown_and_triage(client: TestClient, source: str, date: str) -> None:
    iso, epoch = DATES[date]
    body = put(payload(source, tid("t"), TEXT), PATHS[source][1], epoch if source == "intercom" else iso)
    response = post(client, source, body)
    assert response.status_code == 202, response.text
    ticket = _triaged(client, response.json()["job_id"])  # SLA math on 9999-12-31 + 4h used to overflow
    assert ticket.created_at is None


def test_generic_dates_out_of_range_are_422_naming_created_at(client: TestClient) -> None:
    for value in ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2100-01-01T00:00:00+00:00"]:
        body = payload("generic", tid("g"), TEXT) | {"created_at": value}
        _refused(client, "generic", body, 422, "created_at", "supported range")


@pytest.mark.parametrize("source", [s for s in SOURCES if s != "intercom"])  # Intercom sends unix seconds
def test_naive_date_is_utc_and_triages(client: TestClient, source: str) -> None:
    body = put(payload(source, tid("t"), TEXT), PATHS[source][1], "2026-11-29T06:00:00")
    response = post(client, source, body)
    assert response.status_code == 202, response.text
    ticket = _triaged(client, response.json()["job_id"])  # aware minus naive used to raise TypeError ×5
    assert ticket.created_at is not None and ticket.created_at.utcoffset() is not None


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    ("literal", "words"),
    [
        ("1e400", "out of range"),
        ("NaN", "not a JSON number"),
        ("-Infinity", "not a JSON number"),
        ("9" * 5000, "digits"),
    ],
)
def test_numbers_json_cannot_carry_are_400(client: TestClient, source: str, literal: str, words: str) -> None:
    raw = json.dumps(payload(source, tid("t"), TEXT))[:-1] + f', "zz_unknown": {literal}}}'
    _refused(client, source, raw.encode(), 400, "malformed JSON", words)


@pytest.mark.parametrize("source", SOURCES)
def test_oversize_ticket_id_is_422_naming_the_field(client: TestClient, source: str) -> None:
    body = put(payload(source, tid("t"), TEXT), PATHS[source][2], "7" * 300)
    _refused(client, source, body, 422, PATHS[source][2], "at most")


def test_oversize_customer_ids_are_422_naming_the_field(client: TestClient) -> None:
    zendesk = put(payload("zendesk", tid("t"), TEXT), "detail.requester_id", "7" * 300)
    _refused(client, "zendesk", zendesk, 422, "customer.id", "at most 256")
    generic = payload("generic", tid("t"), TEXT) | {"customer": {"id": "7" * 300}}
    _refused(client, "generic", generic, 422, "customer.id", "at most 256")


def test_generic_tenant_names_are_bounded(client: TestClient) -> None:
    body = payload("generic", tid("t"), TEXT) | {"tenant": "t" * 100}
    _refused(client, "generic", body, 422, "tenant", "at most 64")
    blank = payload("generic", tid("t"), TEXT) | {"tenant": "   "}
    _refused(client, "generic", blank, 422, "tenant", "must not be empty")


def test_a_payload_that_can_never_triage_is_dead_at_once(client: TestClient) -> None:
    """A job queued before intake checked dates (or by any other path): the worker must not retry it 5 times."""
    runtime = runtime_of(client)
    ticket = {
        "id": "old-1",
        "subject": "Reset",
        "body": TEXT,
        "tenant": "default",
        "created_at": "9999-12-31T23:59:59Z",
    }
    job_id, _ = runtime.queue.enqueue(
        NewJob(kind="triage", source="generic", delivery_id="old", tenant="default", ticket_id="old-1",
               payload=json.dumps(ticket))
    )  # fmt: skip
    Worker(runtime, threading.Event()).run_until_idle()
    job = runtime.queue.get(job_id)
    assert job is not None and (job.state, job.attempts) == ("dead", 1)
    assert job.last_error is not None and "InvalidPayload" in job.last_error and "created_at" in job.last_error

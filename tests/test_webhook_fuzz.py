"""Property-based fuzzing of every webhook parser through the real app, with correctly signed bodies: random
JSON structures and mutations of valid deliveries (follow-up shapes included). Whatever arrives, the answer is
never a 5xx; a 4xx queues nothing; an accepted delivery queues a job whose ticket the worker can read.

Bounded and repeatable: a fixed number of examples per source, derandomised, no example database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge.schemas import EARLIEST_DATE, LATEST_DATE, Ticket
from tests.signed_webhooks import SOURCES, job_count, payload, post, runtime_of, service

FUZZ = settings(
    max_examples=100,  # per source and per strategy: 200 deliveries per source
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text with what breaks stores: lone surrogates, NUL and other controls, line separators, non-ASCII.
_CHARS = st.characters(exclude_categories=()) | st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b", "\u2028", "é"])
TEXT = st.text(_CHARS, max_size=30)
LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)  # NaN and Infinity serialise as tokens JSON lacks
    | TEXT
    | st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00", "2026-11-29T06:00:00", "-1", "1e400", ""])
    | st.sampled_from([253_402_300_799, -62_135_596_800, 10**20, 0])
)
JSON = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=16)  # fmt: skip


def _nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


def _bases(source: str) -> list[dict[str, Any]]:
    """Valid deliveries of each shape the source's parser reads."""
    base = payload(source, "f-1", "The password reset email never arrives.")
    if source == "zendesk":
        comment = {**base, "type": "zen:event-type:ticket.comment_added",
                   "event": {"comment": {"body": "We will cancel", "is_public": True,
                                         "author": {"id": "zd-1", "is_staff": False}}}}  # fmt: skip
        latest = {"body": "new", "author_id": "r", "author_role": "end-user"}
        trigger = {"ticket": {"id": "f-2", "subject": "s", "description": "d", "requester": {"id": "r"},
                              "latest_comment": latest}}  # fmt: skip
        return [base, comment, trigger]
    if source == "intercom":
        replied = json.loads(json.dumps(base))
        replied["topic"] = "conversation.user.replied"
        parts = [
            {"part_type": "comment", "body": "<p>hi</p>", "author": {"type": "admin"}},
            {"part_type": "comment", "body": "<p>cancel</p>", "author": {"type": "user"}, "created_at": 1},
        ]
        replied["data"]["item"]["conversation_parts"] = {"conversation_parts": parts}  # fmt: skip
        return [base, replied]
    if source == "jira":
        note = {"body": "We will cancel", "jsdPublic": True, "author": {"accountType": "customer"}}
        comment = {**base, "webhookEvent": "comment_created", "comment": note}
        return [base, comment]
    return [base]


def _paths(node: Any, leaves: bool, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every value under `node` (only to strings, numbers and nulls with `leaves`)."""
    container = isinstance(node, dict | list)
    found = [prefix] if prefix and not (leaves and container) else []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in children:
        found += _paths(child, leaves, (*prefix, key))
    return found


DATES = st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00", "2026-11-29T06:00:00", "", "soon"])
# Text that always holds at least one character a store refuses.
HOSTILE = st.builds(lambda a, bad, b: a + bad + b, TEXT, st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b"]), TEXT)


@st.composite
def mutated(draw: st.DrawFn, source: str) -> dict[str, Any]:
    """A valid delivery with a few values swapped for hostile text, dates, random JSON or deep nesting, or
    removed, and maybe an unknown key added. Mostly gentle, so that many still get past the parser."""
    body = json.loads(json.dumps(draw(st.sampled_from(_bases(source)))))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["text", "text", "text", "date", "json", "delete", "nest"]))
        paths = _paths(body, leaves=action in ("text", "date"))
        if action == "date":  # aim at the dates when there are any left
            paths = [p for p in paths if "created" in str(p[-1])] or paths
        if not paths:  # everything was deleted
            break
        *parents, last = draw(st.sampled_from(paths))
        node = body
        for key in parents:
            node = node[key]
        if action == "delete" and isinstance(node, dict):
            del node[last]
        elif action == "nest":
            node[last] = _nested(node[last], draw(st.integers(1, 3) | st.integers(90, 150)))
        else:
            node[last] = draw({"text": HOSTILE, "date": DATES}.get(action, JSON))
    if draw(st.booleans()):
        body[draw(TEXT)] = _nested(draw(JSON), draw(st.integers(0, 3) | st.integers(90, 150)))
    return body


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # Intake only: no model is needed to verify, parse and queue.
    with service(tmp_path_factory.mktemp("fuzz") / "data") as test_client:
        yield test_client


def _check(client: TestClient, source: str, body: Any) -> None:
    raw = json.dumps(body, allow_nan=True).encode()
    before = job_count(client)
    started = time.monotonic()
    response = post(client, source, raw)
    assert response.status_code < 500, (response.status_code, response.text, raw[:500])
    if response.status_code >= 400:
        assert job_count(client) == before, (response.status_code, response.text)
        assert response.json()["detail"]
        return
    answer = response.json()
    assert answer["status"] in ("queued", "duplicate", "ignored", "pong"), answer
    if response.status_code == 202:
        assert job_count(client) == before + 1
        job = runtime_of(client).queue.get(answer["job_id"])
        assert job is not None
        ticket = Ticket.model_validate_json(job.payload)  # the worker's first step
        job.payload.encode("utf-8")  # no lone surrogate reached the queue
        assert ticket.created_at is None or EARLIEST_DATE <= ticket.created_at < LATEST_DATE
    assert time.monotonic() - started < 60  # a hang would show here rather than as a stuck suite


@pytest.mark.parametrize("source", SOURCES)
def test_random_json_never_5xx(client: TestClient, source: str) -> None:
    @FUZZ
    @given(body=st.dictionaries(TEXT, JSON, max_size=6) | JSON)
    def run(body: Any) -> None:
        _check(client, source, body)

    run()


@pytest.mark.parametrize("source", SOURCES)
def test_mutated_deliveries_never_5xx(client: TestClient, source: str) -> None:
    @FUZZ
    @given(body=mutated(source))
    def run(body: dict[str, Any]) -> None:
        _check(client, source, body)

    run()

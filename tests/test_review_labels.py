"""Review approve/reject validate corrected labels exactly as `caseworker ingest` validates a row's: the same
priority normalisation and error text, and only the fields and values the tenant's taxonomy and history know."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from knowledge.importers import read_tickets
from service.worker import Worker
from tests.signed_webhooks import AUTH, post, runtime_of, service, trained_data_dir

MIXED = ("Invoice and login", "I need the invoice but I can't log in, the password reset email is missing.")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with service(trained_data_dir(tmp_path_factory.mktemp("labels"))) as test_client:
        yield test_client


def _pending_review(client: TestClient, ticket_id: str) -> str:
    body = {"id": ticket_id, "subject": MIXED[0], "body": MIXED[1]}
    assert post(client, "generic", body).status_code == 202
    Worker(runtime_of(client), threading.Event()).run_until_idle()
    [item] = [i for i in client.get("/api/reviews", headers=AUTH).json()["items"] if i["ticket_id"] == ticket_id]
    return str(item["id"])


def _ingest_reason(tmp_path: Path, row: str) -> str:
    """What `caseworker ingest tickets` says about one row."""
    path = tmp_path / "rows.jsonl"
    path.write_text(row + "\n")
    [reject] = read_tickets(path).rejects
    return f"{reject.field}: {reject.reason}"


@pytest.mark.parametrize("endpoint", ["approve", "reject"])
def test_priority_outside_p0_p3_is_422_with_the_ingest_error(client: TestClient, endpoint: str, tmp_path: Path) -> None:
    review_id = _pending_review(client, f"lab-p9-{endpoint}")
    response = client.post(
        f"/api/reviews/{review_id}/{endpoint}", headers=AUTH, json={"reason": "wrong", "labels": {"priority": "P9"}}
    )
    assert response.status_code == 422, response.text
    ingest = _ingest_reason(tmp_path, '{"subject": "s", "body": "b", "priority": "P9"}')
    assert response.json()["detail"] == f"labels.{ingest}"  # "labels.priority: unknown priority 'P9' (accepted: ..."
    assert runtime_of(client).reviews.get(review_id).state == "pending"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("labels", "detail"),
    [
        ({"colour": "red"}, "labels.colour: unknown label field 'colour'"),
        ({"category": "astrology"}, "labels.category: unknown category 'astrology' (known: "),
        ({"queue": "nowhere"}, "labels.queue: unknown queue 'nowhere'"),
        ({"sentiment": "ecstatic"}, "labels.sentiment: unknown sentiment 'ecstatic'"),
    ],
)
def test_unknown_fields_and_values_are_422_naming_the_label(
    client: TestClient, labels: dict[str, str], detail: str
) -> None:
    review_id = _pending_review(client, f"lab-{next(iter(labels))}")
    for endpoint in ("approve", "reject"):
        response = client.post(
            f"/api/reviews/{review_id}/{endpoint}", headers=AUTH, json={"reason": "wrong", "labels": labels}
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"].startswith(detail)
    assert runtime_of(client).reviews.get(review_id).state == "pending"  # type: ignore[union-attr]


def test_known_corrections_are_normalised_and_stored(client: TestClient) -> None:
    review_id = _pending_review(client, "lab-ok")
    labels = {"priority": "urgent", "category": "refund_request", "queue": "billing", "sentiment": "negative"}
    response = client.post(f"/api/reviews/{review_id}/approve", headers=AUTH, json={"labels": labels})
    assert response.status_code == 200, response.text
    stored = runtime_of(client).components.history.get_ticket("default", "lab-ok")
    assert stored is not None
    assert {k: stored.labels[k] for k in labels} == {**labels, "priority": "P0"}


def test_review_text_with_lone_surrogates_and_nul_is_stored_sanitised(client: TestClient) -> None:
    """FastAPI's JSON parser lets "\\ud800" through, and storing the reply failed with a 500."""
    review_id = _pending_review(client, "lab-text")
    raw = json.dumps({"reply": "Hi \ud800 there\x00, fixed.", "reviewer": "sam\udfff"}).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    response = client.post(f"/api/reviews/{review_id}/approve", headers=headers, content=raw)
    assert response.status_code == 200, response.text
    stored = runtime_of(client).components.history.get_ticket("default", "lab-text")
    assert stored is not None and stored.reply == "Hi \ufffd there, fixed."
    other = _pending_review(client, "lab-reason")
    nothing = json.dumps({"reason": "\x00\x01"}).encode()
    refused = client.post(f"/api/reviews/{other}/reject", headers=headers, content=nothing)
    assert refused.status_code == 422 and "reason" in refused.text

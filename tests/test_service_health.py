"""Liveness and readiness on the real app (real SQLite, real Chroma): /readyz says which dependency is
missing and answers 503 until it is back; /livez (and the old /healthz) only says the process answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.components import Components
from config.settings import Settings
from knowledge.chroma_local import GENERATION_FILE
from knowledge.jobs import NewJob
from service.app import create_app
from service.queue import JobQueue
from service.runtime import ServiceRuntime

TOKEN = "health-token-that-must-never-appear-in-a-probe"


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, api_token=TOKEN, ready_max_queue_age_s=300)


@pytest.fixture
def intake(trained_workspace: Components) -> Iterator[TestClient]:
    """`serve --workers 0`: intake only."""
    trained_workspace.history.close()
    with TestClient(create_app(_settings(trained_workspace.settings.data_dir), workers=0)) as client:
        yield client


def _runtime(client: TestClient) -> ServiceRuntime:
    return client.app.state.runtime  # type: ignore[attr-defined]


def _job(delivery: str) -> NewJob:
    return NewJob(kind="triage", source="generic", delivery_id=delivery, tenant="default", ticket_id="t1", payload="{}")


def _assert_no_secrets(text: str, data_dir: Path) -> None:
    assert TOKEN not in text and str(data_dir) not in text and "/" + data_dir.name not in text


def test_liveness_answers_without_touching_anything(intake: TestClient) -> None:
    for path in ("/livez", "/healthz"):
        response = intake.get(path)
        assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_intake_only_process_is_ready_without_loading_the_model(intake: TestClient, tmp_path: Path) -> None:
    response = intake.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"history", "vector_store", "model", "queue", "dead_jobs"}
    assert all(check["ok"] for check in body["checks"].values())
    assert "12 tickets" in body["checks"]["vector_store"]["detail"]  # a real read of the index
    assert body["checks"]["model"]["detail"].startswith("not needed: intake only")
    assert _runtime(intake).loaded_context is None  # asking did not load it
    _assert_no_secrets(response.text, tmp_path / "data")


def test_a_job_waiting_past_the_threshold_makes_it_not_ready(intake: TestClient) -> None:
    history = _runtime(intake).components.history
    JobQueue(history, clock=lambda: time.time() - 1000).enqueue(_job("old"))  # queued 1000 s ago, never claimed
    response = intake.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    queue = body["checks"]["queue"]
    assert not queue["ok"] and "waited 1000 s (limit 300 s)" in queue["detail"]
    assert [name for name, check in body["checks"].items() if not check["ok"]] == ["queue"]


def test_dead_jobs_are_reported_but_do_not_fail_readiness(intake: TestClient) -> None:
    queue = JobQueue(_runtime(intake).components.history, max_attempts=1)
    queue.enqueue(_job("poison"))
    job = queue.claim()
    assert job is not None
    queue.fail(job.lease, "ValueError: nothing to triage")
    response = intake.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["dead_jobs"] == {
        "ok": True,
        "detail": "1 dead job(s): see `caseworker jobs list --state dead`",
    }


def test_an_unreachable_history_is_503_naming_it(intake: TestClient, tmp_path: Path) -> None:
    _runtime(intake).components.history.close()
    response = intake.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["history"] == {"ok": False, "detail": "unreachable (ProgrammingError)"}
    assert checks["vector_store"]["ok"]
    _assert_no_secrets(response.text, tmp_path / "data")
    assert intake.get("/livez").status_code == 200  # alive, just not ready: don't restart it for this


def test_an_unreadable_vector_store_is_503_naming_it(intake: TestClient, tmp_path: Path) -> None:
    assert intake.get("/readyz").status_code == 200  # the store is open in this process
    chroma = tmp_path / "data" / "chroma"
    (chroma / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    (chroma / GENERATION_FILE).write_text("999")  # as if another process wrote: the next read reopens it
    response = intake.get("/readyz")
    assert response.status_code == 503, response.text
    check = response.json()["checks"]["vector_store"]
    assert not check["ok"] and check["detail"].startswith("unreachable (")
    _assert_no_secrets(response.text, tmp_path / "data")


def test_a_worker_process_is_ready_once_its_model_is_loaded(trained_workspace: Components) -> None:
    trained_workspace.history.close()
    with TestClient(create_app(_settings(trained_workspace.settings.data_dir), workers=1)) as client:
        response = client.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["checks"]["model"]["detail"].startswith("loaded (champions: default: lm-")


def test_a_worker_process_without_a_trained_model_is_not_ready(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path / "fresh"), workers=1)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        model = response.json()["checks"]["model"]
        assert model == {
            "ok": False,
            "detail": "no trained local model: run `caseworker ingest tickets` and `caseworker train`",
        }

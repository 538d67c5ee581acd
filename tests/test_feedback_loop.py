"""Learning from feedback: review decisions queue a retrain that a worker runs through the gate; the stats
the team sees; drift alerts on a shifted stream and silence on an unshifted one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent.graph import triage
from config.components import Components
from config.settings import Settings
from insights.drift import drift, psi, raise_alerts
from insights.feedback_stats import edit_distance
from knowledge.importers import read_tickets
from service.app import create_app
from service.worker import Worker
from tests.conftest import REPO, SMALL_HISTORY
from tests.test_service import AUTH, MIXED, SECRET, post_zendesk


@pytest.fixture
def learning_client(trained_workspace: Components) -> Iterator[TestClient]:
    settings = Settings(data_dir=trained_workspace.settings.data_dir, zendesk_secret=SECRET, api_token="review-token",
                        retrain_after_labels=2, review_undo_s=0, **SMALL_HISTORY)  # fmt: skip
    trained_workspace.history.close()
    with TestClient(create_app(settings, workers=0)) as client:
        yield client


def test_review_decisions_queue_a_retrain_that_a_worker_runs(learning_client: TestClient) -> None:
    runtime = learning_client.app.state.runtime  # type: ignore[attr-defined]
    drain = Worker(runtime, threading.Event()).run_until_idle
    before = runtime.components.registry.champion_version("default")
    for n in range(2):
        post_zendesk(learning_client, f"77{n}", f"{MIXED[0]} {n}", MIXED[1], f"fb-{n}")
    drain()
    reviews = learning_client.get("/api/reviews", headers=AUTH).json()["items"]
    assert len(reviews) == 2
    first = learning_client.post(f"/api/reviews/{reviews[0]['id']}/approve", headers=AUTH, json={"reviewer": "a"})
    assert first.status_code == 200
    assert runtime.queue.list(kind="retrain") == []  # one decision is below the threshold of two
    learning_client.post(
        f"/api/reviews/{reviews[1]['id']}/approve",
        headers=AUTH,
        json={"reviewer": "b", "reply": "Hello, here is what to do instead.", "labels": {"category": "refund_request"}},
    )
    (job,) = runtime.queue.list(kind="retrain")
    drain()
    assert runtime.queue.get(job.id).state == "done"
    versions = [r.version for r in runtime.components.registry.list("default")]
    assert len(versions) == 2 and before in versions
    retrained = [row for row in runtime.components.history.audit_rows() if row["event"] == "retrained"]
    assert retrained and retrained[-1]["detail"]["version"] in versions

    stats = learning_client.get("/api/stats", headers=AUTH).json()["tenants"][0]
    assert stats["decisions"] == {"approved": 1, "edited": 1}
    assert stats["approval_rate"] == 1.0
    assert stats["fields"]["category"]["corrected"] == 1
    assert stats["draft_edits"]["edited_replies"] == 1 and stats["draft_edits"]["mean_edit_distance"] > 0
    assert len(stats["models"]) == 2


def test_edit_distance_is_bounded_and_ordered() -> None:
    assert edit_distance("same text", "same text") == 0.0
    assert 0 < edit_distance("Hi Ada, reset it here.", "Hi Ada, use this link to reset it.") < 1
    assert edit_distance("a" * 100_000, "b" * 100_000) == 1.0  # cut to 4,000 characters each: fast


def test_psi_is_zero_for_equal_mixes_and_large_for_a_shift() -> None:
    assert psi([10, 20, 30], [20, 40, 60]) == pytest.approx(0.0, abs=1e-9)
    assert psi([50, 50, 0], [0, 50, 50]) > 1.0


@pytest.mark.slow
def test_drift_alerts_on_a_shifted_stream_only(tmp_path: Path) -> None:
    workspace = Components(Settings(data_dir=tmp_path / "data", min_labels_per_field=20))
    history = sorted(read_tickets(REPO / "caseworker" / "sample_data" / "history.jsonl").tickets,
                     key=lambda t: t.created_at or 0)  # fmt: skip
    cut = int(len(history) * 0.6)
    workspace.ingest.tickets(history[:cut])
    (trained,) = workspace.train()
    assert trained.promoted
    context = workspace.context()
    # The rest of the history, as it arrived: the same kind of traffic, never seen in training.
    for ticket in history[cut:]:
        triage(ticket.model_copy(update={"id": f"live-{ticket.id}", "reply": None, "labels": {}}), context)
    steady = drift(workspace.history, workspace.registry, "default", window=len(history) - cut)
    queue_rows = {r.view: r for r in steady if r.field == "queue"}
    assert set(queue_rows) == {"labels", "confidence"}, steady
    assert not any(r.alert for r in steady), steady
    assert raise_alerts(workspace.history, steady) == []

    billing = [t for t in history if t.labels["queue"] in ("billing", "account_access")]
    for n in range(len(history) - cut):
        ticket = billing[n % len(billing)]
        triage(ticket.model_copy(update={"id": f"shift-{n}", "reply": None, "labels": {}}), context)
    shifted = drift(workspace.history, workspace.registry, "default", window=len(history) - cut)
    alerting = [r for r in shifted if r.alert]
    assert any(r.field == "queue" and r.view == "labels" for r in alerting), shifted
    raised = raise_alerts(workspace.history, shifted)
    assert raised and raise_alerts(workspace.history, shifted) == []  # once per day per field, view and model
    events = [row for row in workspace.history.audit_rows() if row["event"] == "drift_alert"]
    assert len(events) == len(raised)

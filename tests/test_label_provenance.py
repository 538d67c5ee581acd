"""Label provenance: an approval confirms only model-made fields the reviewer saw; rule-made fields never
become training labels unless a human changed them; old data dirs are migrated conservatively."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from agent.graph import triage
from agent.review import reviewed_labels
from agent.schemas import Action, DecisionReason, TriageResult
from config.components import Components
from config.settings import Settings
from knowledge.history import History
from knowledge.migrations import LATEST, schema_version
from knowledge.reviews import ReviewDecision
from knowledge.schemas import Ticket
from tests.conftest import SMALL_HISTORY
from tests.test_service import AUTH, MIXED, _drain, _runtime, client, helpdesk, post_zendesk

__all__ = ["client", "helpdesk"]  # pytest fixtures used below


def _result(client: TestClient, ticket_id: str) -> TriageResult:
    stored = _runtime(client).components.history.latest_result("default", ticket_id)
    assert stored is not None
    return TriageResult.model_validate(stored)


def test_approval_confirms_model_fields_only_and_keeps_rules_out_of_training(client: TestClient) -> None:
    post_zendesk(client, "5501", *MIXED, "prov-1")
    _drain(client)
    result = _result(client, "zendesk:5501")
    predictions = result.classification.predictions()
    assert predictions["sentiment"].source == "rule" and predictions["churn_risk"].source == "rule"
    review = client.get("/api/reviews", headers=AUTH).json()["items"][0]
    approved = client.post(f"/api/reviews/{review['id']}/approve", headers=AUTH, json={"reviewer": "sam"})
    assert approved.status_code == 200, approved.text

    runtime = _runtime(client)
    ticket = runtime.components.history.get_ticket("default", "zendesk:5501")
    assert ticket is not None
    assert ticket.label_source("queue") == ticket.label_source("category") == "human_confirmed"
    assert ticket.label_source("sentiment") == ticket.label_source("churn_risk") == "rule"
    trainable = ticket.trainable_labels()
    assert "churn_risk" not in trainable and "sentiment" not in trainable and "language" not in ticket.labels
    assert trainable["queue"] == predictions["queue"].value
    decision = runtime.components.history.audit_rows("zendesk:5501")[-1]["detail"]
    assert set(decision["label_sources"].values()) == {"human_confirmed"}

    # Retraining learns no churn risk from that approval, so churn escalations still come from the rules.
    settings = runtime.settings
    workspace = Components(Settings(data_dir=settings.data_dir, **SMALL_HISTORY))
    (trained,) = workspace.train(promote="always")
    model = workspace.models.for_tenant("default")
    assert model is not None and model.version == trained.version
    assert "churn_risk" not in model.fields and "sentiment" not in model.fields
    cancel = Ticket(
        id="churn-1",
        subject="Cancelling",
        body="This keeps breaking. We will cancel our subscription at the end of the month.",
        customer={"id": "big", "name": "Globex", "tier": "enterprise", "mrr": 9000},
    )
    verdict = triage(cancel, workspace.context())
    assert verdict.classification.churn_risk.value == "high"
    assert verdict.decision.action == Action.ESCALATE
    assert verdict.decision.reason == DecisionReason.CHURN_RISK_HIGH_VALUE


def test_corrections_and_rejections(client: TestClient) -> None:
    post_zendesk(client, "5502", *MIXED, "prov-2")
    _drain(client)
    result = _result(client, "zendesk:5502")
    ticket = Ticket(id="zendesk:5502", subject=MIXED[0], body=MIXED[1], labels={"priority": "P1"})

    labels, sources = reviewed_labels(
        ticket, result, ReviewDecision(outcome="approved", labels={"churn_risk": "medium"}, confirmed_fields=["queue"])
    )
    # Shown and model-made: confirmed. Not shown: stays predicted. Rule-made but changed: a human label.
    assert sources["queue"] == "human_confirmed"
    assert sources["category"] == "predicted"
    assert (labels["churn_risk"], sources["churn_risk"]) == ("medium", "human_corrected")
    assert sources["sentiment"] == "rule"
    # A label the ticket was imported with (the helpdesk's own priority) is not overwritten by a guess.
    assert sources["priority"] in ("imported", "human_confirmed")

    _, rejected = reviewed_labels(
        ticket, result, ReviewDecision(outcome="rejected", reason="wrong", labels={"category": "refund_request"})
    )
    assert rejected["category"] == "human_corrected"
    assert rejected["queue"] == "predicted"


def test_old_data_dir_marks_unprovable_review_labels_as_predicted(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    history = History(path)
    reviewed = Ticket(id="z:1", subject="s", body="b", labels={"queue": "billing", "priority": "P2"}, reply="r")
    imported = Ticket(id="h:1", subject="s", body="b", labels={"queue": "account"}, reply="r")
    history.upsert_tickets([reviewed, imported])
    with history.transaction() as conn:
        conn.execute(
            "INSERT INTO reviews (id, tenant, ticket_id, job_id, result_seq, state, subject, priority, created_at, "
            "decided_at, decision) VALUES ('r-1', 'default', 'z:1', 'j-1', 1, 'edited', 's', 'P3', 't', 't', ?)",
            (json.dumps({"corrected": {"priority": "P2"}, "labels": {"queue": "billing", "priority": "P2"}}),),
        )
        # What a 0.1 data dir looked like: labels without provenance, schema before this migration.
        conn.execute("UPDATE tickets SET data = json_remove(data, '$.label_sources')")
        conn.execute("DELETE FROM schema_migrations WHERE version >= 2")
    history.close()

    migrated = History(path)
    assert schema_version(migrated.db) == LATEST
    ticket = migrated.get_ticket("default", "z:1")
    assert ticket is not None
    assert ticket.label_sources == {"queue": "predicted", "priority": "human_corrected"}
    assert ticket.trainable_labels() == {"priority": "P2"}
    never_reviewed = migrated.get_ticket("default", "h:1")
    assert never_reviewed is not None and never_reviewed.trainable_labels() == {"queue": "account"}
    migrated.close()
    with sqlite3.connect(path) as conn:  # opening again applies nothing twice
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == list(range(1, LATEST + 1))

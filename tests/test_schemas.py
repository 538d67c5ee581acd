"""The output contract refuses values off its scales, and tickets keep what they do not know."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.schemas import Classification, FieldPrediction
from knowledge.schemas import Ticket


def _classification(**change: FieldPrediction) -> Classification:
    base = {
        "queue": None,
        "category": None,
        "type": None,
        "priority": FieldPrediction.of("P2", 0.7, "local"),
        "sentiment": FieldPrediction.of("neutral", 0.7, "local"),
        "churn_risk": FieldPrediction.of("low", 0.7, "rule"),
        "language": FieldPrediction.of("en", 0.99, "rule"),
    }
    return Classification(**{**base, **change})


@pytest.mark.parametrize(("field", "value"), [("priority", "P5"), ("sentiment", "angry"), ("churn_risk", "extreme")])
def test_values_off_the_scale_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match=field):
        _classification(**{field: FieldPrediction.of(value, 0.9, "llm")})


def test_confidence_is_clamped_and_banded() -> None:
    assert FieldPrediction.of("x", 1.7, "local").confidence == 1.0
    assert [FieldPrediction.of("x", c, "local").band for c in (0.85, 0.6, 0.2)] == ["high", "medium", "low"]


def test_ticket_collects_labels_and_keeps_unknown_keys() -> None:
    ticket = Ticket.model_validate(
        {"id": " 42 ", "subject": "s", "body": "b", "queue": "billing", "priority": "urgent", "sla_plan": "gold"}
    )
    assert ticket.id == "42"
    assert ticket.labels == {"queue": "billing", "priority": "P0"}
    assert ticket.extra == {"sla_plan": "gold"}


def test_ticket_requires_id_subject_body() -> None:
    with pytest.raises(ValidationError) as error:
        Ticket.model_validate({"subject": "s"})
    assert {e["loc"][0] for e in error.value.errors()} == {"id", "body"}

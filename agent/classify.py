"""Turns the local model's guesses (and rules, for fields the history never labelled) into a
Classification, and checks it against the taxonomy."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from agent.schemas import CHURN_RISKS, SENTIMENTS, Classification, FieldPrediction
from agent.signals import Signal, rule_churn_risk, rule_sentiment
from knowledge.schemas import PRIORITIES
from knowledge.taxonomy import Taxonomy

if TYPE_CHECKING:
    from agent.local_model import FieldGuess, LocalModel

_NAMED_FIELDS = ("queue", "category", "priority", "type", "sentiment", "churn_risk")
#: Signals that put a floor under the priority: the history may never have seen such a ticket.
_PRIORITY_FLOOR_SIGNALS = {Signal.SECURITY, Signal.OUTAGE, Signal.DATA_LOSS}
_FLOOR = "P1"


def _from_guess(guess: FieldGuess) -> FieldPrediction:
    return FieldPrediction.of(guess.value, guess.confidence, "local", list(guess.alternatives))


def classify_ticket(
    *,
    model: LocalModel | None,
    taxonomy: Taxonomy | None,
    text: str,
    embedding: np.ndarray,
    language: tuple[str, float, str],
    signals: list[Signal],
    repeat_contact: bool,
) -> Classification:
    guesses: dict[str, FieldGuess] = model.predict([text], embedding[None, :])[0] if model else {}
    notes: list[str] = []
    needs_review = model is None
    if model is None:
        notes.append("no local model trained yet: run `caseworker train`")

    predictions = {name: _from_guess(guess) for name, guess in guesses.items()}

    priority = predictions.get("priority")
    if priority is not None and priority.value not in PRIORITIES:
        notes.append(f"priority {priority.value!r} is not on the P0–P3 scale")
        needs_review = True
        priority = None
    if priority is None:
        priority = FieldPrediction.of("P2", 0.3, "rule")
    if set(signals) & _PRIORITY_FLOOR_SIGNALS and PRIORITIES.index(priority.value) > PRIORITIES.index(_FLOOR):
        notes.append(f"priority raised from {priority.value} to {_FLOOR}: text reads as {', '.join(signals)}")
        priority = FieldPrediction.of(_FLOOR, 0.7, "rule", [(priority.value, priority.confidence)])

    sentiment = predictions.get("sentiment")
    if sentiment is None or sentiment.value not in SENTIMENTS:
        sentiment = FieldPrediction.of(*rule_sentiment(text), "rule")
    churn = predictions.get("churn_risk")
    if churn is None or churn.value not in CHURN_RISKS:
        churn = FieldPrediction.of(*rule_churn_risk(signals, sentiment.value, repeat_contact), "rule")

    category = predictions.get("category")
    if (
        taxonomy is not None
        and taxonomy.categories
        and category is not None
        and category.value not in taxonomy.categories
    ):
        notes.append(f"category {category.value!r} is not in the taxonomy")
        needs_review = True

    language_code, language_confidence, language_source = language
    return Classification(
        queue=predictions.get("queue"),
        category=category,
        priority=priority,
        type=predictions.get("type"),
        sentiment=sentiment,
        churn_risk=churn,
        language=FieldPrediction.of(language_code, language_confidence, language_source),  # type: ignore[arg-type]
        custom={name: p for name, p in predictions.items() if name not in _NAMED_FIELDS},
        needs_review=needs_review,
        review_notes=notes,
    )

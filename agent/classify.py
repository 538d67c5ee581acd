"""Builds the Classification: the local model's guesses, the LLM's answers where the mode asks for
them, rules for fields the history never labelled, and the deterministic guards on top."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from agent.schemas import CHURN_RISKS, SENTIMENTS, Classification, FieldPrediction
from agent.signals import CHURN_THREATS, ChurnFacts, Signal, rule_churn_risk, rule_sentiment
from knowledge.schemas import PRIORITIES
from knowledge.taxonomy import Taxonomy

if TYPE_CHECKING:
    from agent.local_model import FieldGuess, LocalModel

NAMED_FIELDS = ("queue", "category", "priority", "type", "sentiment", "churn_risk")
#: Fields that say where a ticket goes and what answers it: without a prediction, a human must look.
ROUTING_FIELDS = ("queue", "category", "type")
#: Signals that put a floor under the priority: the history may never have seen such a ticket.
_PRIORITY_FLOOR_SIGNALS = {Signal.SECURITY, Signal.OUTAGE, Signal.DATA_LOSS}
_FLOOR = "P1"


def local_predictions(model: LocalModel | None, text: str, embedding: np.ndarray) -> dict[str, FieldPrediction]:
    if model is None:
        return {}
    return predictions_of(model.predict([text], embedding[None, :])[0])


def predictions_of(guesses: Mapping[str, FieldGuess]) -> dict[str, FieldPrediction]:
    """The local model's guesses for one ticket as the Classification's predictions."""
    return {
        name: FieldPrediction.of(g.value, g.confidence, "local", list(g.alternatives)) for name, g in guesses.items()
    }


def llm_fields(model: LocalModel | None) -> dict[str, list[str]]:
    """Every field the LLM may be asked, with its allowed values (the taxonomy the history taught)."""
    fields: dict[str, list[str]] = {name: list(classes) for name, classes in (model.fields if model else {}).items()}
    fields["priority"] = list(PRIORITIES)
    fields["sentiment"] = list(SENTIMENTS)
    fields["churn_risk"] = list(CHURN_RISKS)
    return fields


def uncertain_fields(
    local: dict[str, FieldPrediction], fields: dict[str, list[str]], threshold: float, watched: Sequence[str]
) -> list[str]:
    """The watched fields (and custom labels) the local model is unsure of or never learned: cascade asks only these."""
    wanted = [name for name in fields if name in watched or name not in NAMED_FIELDS]
    return [name for name in wanted if name not in local or local[name].confidence < threshold]


def _more_urgent(a: FieldPrediction, b: FieldPrediction) -> FieldPrediction:
    return a if PRIORITIES.index(a.value) <= PRIORITIES.index(b.value) else b


def finalize(
    *,
    local: dict[str, FieldPrediction],
    llm: dict[str, FieldPrediction],
    model_trained: bool,
    taxonomy: Taxonomy | None,
    text: str,
    language: tuple[str, float, str],
    signals: list[Signal],
    recent_tickets: int = 0,
    high_value: bool = False,
    notes: list[str] | None = None,
    unlearned: dict[str, int] | None = None,
) -> Classification:
    notes = list(notes or [])
    needs_review = not model_trained
    if not model_trained:
        notes.append("no local model trained yet for this tenant: run `caseworker train`")
    predictions = {**local, **llm}
    for name, count in (unlearned or {}).items():
        # Too little of this tenant's own labelled history to learn the field: a human decides it.
        if name not in predictions and name in ROUTING_FIELDS:
            notes.append(f"{name}: only {count} labelled tickets of this tenant, too few to predict it")
            needs_review = True

    priority = predictions.get("priority")
    if priority is not None and priority.value not in PRIORITIES:
        notes.append(f"priority {priority.value!r} is not on the P0–P3 scale")
        needs_review = True
        priority = None
    if priority is None:
        priority = FieldPrediction.of("P2", 0.3, "rule")
    risky = set(signals) & _PRIORITY_FLOOR_SIGNALS
    if risky and "priority" in llm and "priority" in local and local["priority"].value in PRIORITIES:
        # On an outage or security ticket the LLM may raise the priority but never lower it: text that
        # talks a model into "P3, close it" is exactly what an attacker or an angry customer would write.
        priority = _more_urgent(priority, local["priority"])
    if risky and PRIORITIES.index(priority.value) > PRIORITIES.index(_FLOOR):
        notes.append(f"priority raised from {priority.value} to {_FLOOR}: text reads as {', '.join(sorted(risky))}")
        priority = FieldPrediction.of(_FLOOR, 0.7, "rule", [(priority.value, priority.confidence)])

    sentiment = predictions.get("sentiment")
    if sentiment is None or sentiment.value not in SENTIMENTS:
        sentiment = FieldPrediction.of(*rule_sentiment(text), "rule")
    churn = predictions.get("churn_risk")
    rule_churn = rule_churn_risk(ChurnFacts(frozenset(signals), sentiment.value, recent_tickets, high_value))
    if churn is None or churn.value not in CHURN_RISKS:
        churn = FieldPrediction.of(*rule_churn, "rule")
    elif (threats := set(signals) & CHURN_THREATS) and churn.value != "high":
        # As with priority: a model that never saw "we cancel and go to Asana" may not lower an
        # explicit threat to leave.
        notes.append(f"churn risk raised from {churn.value} to high: text reads as {', '.join(sorted(threats))}")
        churn = FieldPrediction.of("high", rule_churn[1], "rule", [(churn.value, churn.confidence)])

    category = predictions.get("category")
    if (
        taxonomy is not None
        and taxonomy.categories
        and category is not None
        and category.value not in taxonomy.categories
    ):
        notes.append(f"category {category.value!r} is not in the taxonomy")
        needs_review = True
    if "category" in llm and "category" in local and llm["category"].value != local["category"].value:
        notes.append(f"LLM says category {llm['category'].value!r}, the local model {local['category'].value!r}")

    language_code, language_confidence, language_source = language
    return Classification(
        queue=predictions.get("queue"),
        category=category,
        priority=priority,
        type=predictions.get("type"),
        sentiment=sentiment,
        churn_risk=churn,
        language=FieldPrediction.of(language_code, language_confidence, language_source),  # type: ignore[arg-type]
        custom={name: p for name, p in predictions.items() if name not in NAMED_FIELDS},
        needs_review=needs_review,
        review_notes=notes,
    )

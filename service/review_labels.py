"""The labels a reviewer may set on a ticket: the fields its triage classified, with the values the tenant's
taxonomy and history know. Checked by knowledge.labels, the same code `caseworker ingest` runs."""

from __future__ import annotations

from typing import Any

from agent.schemas import CHURN_RISKS, SENTIMENTS, TriageResult
from agent.state import TriageContext
from agent.text import SUPPORTED_LANGUAGES
from knowledge.labels import LabelSpace
from service.writeback_plan import result_labels

_SCALES: dict[str, tuple[str, ...]] = {"sentiment": SENTIMENTS, "churn_risk": CHURN_RISKS}


def review_label_space(result: dict[str, Any], context: TriageContext) -> LabelSpace:
    """field -> accepted values (None: priority, which its own normaliser checks; or a field nothing lists).

    The fields are those the result classified or the local model learned; a value is known when the taxonomy
    names it, the local model learned it, a similar resolved ticket carries it, or the triage predicted it.
    """
    triaged = TriageResult.model_validate(result)
    predicted = result_labels(triaged)
    model = context.local_model(triaged.tenant)
    learned = model.fields if model is not None else {}
    # The labels of the similar resolved tickets shown as evidence: history the model may not have seen yet.
    evidence = [ticket.labels for ticket in triaged.evidence.similar_tickets]
    taxonomy = context.taxonomy
    space: dict[str, frozenset[str] | None] = {}
    for field in {*predicted, *learned}:
        if field == "priority":
            space[field] = None
            continue
        values = set(_SCALES.get(field, ())) | set(learned.get(field, ())) | {predicted.get(field, "")}
        values |= {labels[field] for labels in evidence if field in labels}
        if taxonomy is not None and field == "category":
            values |= set(taxonomy.categories)
        if taxonomy is not None and field == "queue":
            values |= set(taxonomy.queues) | {spec.queue for spec in taxonomy.categories.values() if spec.queue}
        values.discard("")
        space[field] = frozenset(values) or None
    # The review page lets a reviewer correct the detected language too.
    space["language"] = frozenset(SUPPORTED_LANGUAGES)
    return space

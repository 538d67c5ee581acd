"""The human step of the service graph: pause drafts that need review, then store the decision.

`await_review` calls LangGraph's `interrupt()`; the run's state waits in the checkpointer until the
review API resumes the thread with a ReviewDecision. `apply_review` works out the reviewed labels and
reply and hands them to the run's ResultSink (the service stores the decision and queues the reply),
then adds the reviewed ticket to the retrieval index so the next similar ticket finds it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent.schemas import Action, TriageResult
from agent.sink import ReviewOutcome
from agent.state import TriageContext, TriageState
from knowledge.reviews import ReviewDecision
from knowledge.schemas import TRAINABLE_SOURCES, LabelSource, Ticket

log = logging.getLogger(__name__)


def route_after_record(state: TriageState, runtime: Runtime[TriageContext]) -> str:
    needs_human = state["result"].decision.action == Action.DRAFT_FOR_REVIEW
    return "await_review" if needs_human and runtime.context.result_sink.reviews_drafts else END


def await_review(state: TriageState) -> dict[str, Any]:
    draft = state["result"].draft
    answer = interrupt({"draft": draft.body if draft else None})
    return {"review": ReviewDecision.model_validate(answer)}


def reviewed_labels(
    ticket: Ticket, result: TriageResult, decision: ReviewDecision
) -> tuple[dict[str, str], dict[str, LabelSource]]:
    """The ticket's labels and their provenance after a human decision (see ReviewDecision)."""
    labels, sources = dict(ticket.labels), {name: ticket.label_source(name) for name in ticket.labels}
    shown = set(decision.confirmed_fields) if decision.confirmed_fields is not None else None
    for name, prediction in result.classification.predictions().items():
        if name == "language":  # detected, never a label to learn
            continue
        confirmable = decision.outcome != "rejected" and prediction.source in ("local", "llm")
        if confirmable and (shown is None or name in shown):
            labels[name], sources[name] = prediction.value, "human_confirmed"
        elif name not in labels or sources[name] not in TRAINABLE_SOURCES:
            labels[name], sources[name] = prediction.value, ("rule" if prediction.source == "rule" else "predicted")
    for name, value in decision.labels.items():
        if value and name != "language":  # a corrected language is the ticket's language, not a label
            labels[name], sources[name] = value, "human_corrected"
    return labels, sources


def apply_review(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    ctx = runtime.context
    decision: ReviewDecision = state["review"]
    result, ticket = state["result"], state["ticket"]
    labels, sources = reviewed_labels(ticket, result, decision)
    draft = result.draft.body if result.draft else None
    reply = None if decision.outcome == "rejected" else (decision.reply or draft)
    language = decision.labels.get("language") or ticket.language
    reviewed = ticket.model_copy(
        update={"labels": labels, "label_sources": sources, "reply": reply or ticket.reply, "language": language}
    )
    human = {name: value for name, value in labels.items() if sources[name] in ("human_confirmed", "human_corrected")}
    outcome = ReviewOutcome(
        decision=decision.model_copy(update={"reply": reply}),
        reviewed=reviewed,
        human_labels=human,
        human_sources={name: sources[name] for name in human},
        draft=draft,
        reply=reply,
    )
    ctx.result_sink.store_review(ticket, result, outcome)
    if reviewed.is_resolved:
        # The decision is stored; a failed index update only delays retrieval until the next ingest.
        try:
            vector = np.asarray(state["embedding"], dtype=np.float32).reshape(1, -1)
            ctx.retriever.store.upsert_tickets([reviewed], vector)
        except Exception:
            log.exception("review of ticket %s stored, but adding it to the index failed", ticket.id)
    return {"review": decision}

"""The human step of the service graph: pause drafts that need review, then store the decision.

`await_review` calls LangGraph's `interrupt()`; the run's state waits in the SQLite checkpointer until
the review API resumes the thread with a ReviewDecision. `apply_review` stores it (see
knowledge.reviews), then adds the reviewed ticket to the retrieval index so the next similar ticket
finds it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent.schemas import Action, TriageResult
from agent.state import TriageContext, TriageState
from agent.writeback_plan import reply_writeback
from knowledge.reviews import ReviewBook, ReviewDecision, review_id_for
from knowledge.schemas import TRAINABLE_SOURCES, LabelSource, Ticket

log = logging.getLogger(__name__)


def route_after_record(state: TriageState) -> str:
    needs_human = state["result"].decision.action == Action.DRAFT_FOR_REVIEW
    return "await_review" if needs_human and state.get("job") is not None else END


def await_review(state: TriageState) -> dict[str, Any]:
    job = state["job"]
    draft = state["result"].draft
    answer = interrupt({"review_id": review_id_for(job.job_id), "draft": draft.body if draft else None})
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
    review_id = review_id_for(state["job"].job_id)
    labels, sources = reviewed_labels(ticket, result, decision)
    draft = result.draft.body if result.draft else None
    reply = None if decision.outcome == "rejected" else (decision.reply or draft)
    language = decision.labels.get("language") or ticket.language
    reviewed = ticket.model_copy(
        update={"labels": labels, "label_sources": sources, "reply": reply or ticket.reply, "language": language}
    )
    human = {name: value for name, value in labels.items() if sources[name] in ("human_confirmed", "human_corrected")}
    ReviewBook(ctx.history).decide(
        review_id,
        decision.model_copy(update={"reply": reply}),
        labels=human,
        label_sources={name: sources[name] for name in human},
        draft=draft,
        ticket=reviewed,
        follow_up=reply_writeback(ticket, reply, review_id) if reply else None,
        max_attempts=ctx.job_max_attempts,
        now=ctx.clock().timestamp(),
    )
    if reviewed.is_resolved:
        # The decision is stored; a failed index update only delays retrieval until the next ingest.
        try:
            vector = np.asarray(state["embedding"], dtype=np.float32).reshape(1, -1)
            ctx.retriever.store.upsert_tickets([reviewed], vector)
        except Exception:
            log.exception("review %s stored, but adding ticket %s to the index failed", review_id, ticket.id)
    return {"review": decision}

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

from agent.schemas import Action
from agent.state import TriageContext, TriageState
from agent.writeback_plan import reply_writeback, result_labels
from knowledge.reviews import ReviewBook, ReviewDecision, review_id_for

log = logging.getLogger(__name__)


def route_after_record(state: TriageState) -> str:
    needs_human = state["result"].decision.action == Action.DRAFT_FOR_REVIEW
    return "await_review" if needs_human and state.get("job") is not None else END


def await_review(state: TriageState) -> dict[str, Any]:
    job = state["job"]
    draft = state["result"].draft
    answer = interrupt({"review_id": review_id_for(job.job_id), "draft": draft.body if draft else None})
    return {"review": ReviewDecision.model_validate(answer)}


def apply_review(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    ctx = runtime.context
    decision: ReviewDecision = state["review"]
    result, ticket = state["result"], state["ticket"]
    review_id = review_id_for(state["job"].job_id)
    labels = {**result_labels(result), **{k: v for k, v in decision.labels.items() if v}}
    draft = result.draft.body if result.draft else None
    reply = None if decision.outcome == "rejected" else (decision.reply or draft)
    reviewed = ticket.model_copy(update={"labels": {**ticket.labels, **labels}, "reply": reply or ticket.reply})
    ReviewBook(ctx.history).decide(
        review_id,
        decision.model_copy(update={"reply": reply}),
        labels=labels,
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

"""Review API: list drafts waiting for a human, show one with its evidence, approve (as is or edited)
or reject. A decision resumes the paused graph run (see ServiceRuntime.decide)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import Field

from knowledge.labels import LabelError, check_labels, label_text
from knowledge.reviews import Review, ReviewConflict, ReviewDecision
from service.auth import require_token
from service.display import for_display
from service.review_labels import review_label_space
from service.review_routing import assignee_choices, check_assignee
from service.review_undo import UndoRequest, undo_seconds
from service.runtime import ServiceRuntime
from service.storable import Storable


class ApproveRequest(Storable):
    #: The reply as the agent left it; omitted or unchanged means the draft is approved as is.
    reply: str | None = Field(default=None, max_length=50_000)
    #: Only the classification fields the agent corrected.
    labels: dict[str, str] = Field(default_factory=dict)
    #: The fields the agent was shown as editable; approving confirms these (default: every predicted field).
    confirmed_fields: list[str] | None = Field(default=None, max_length=100)
    reviewer: str | None = Field(default=None, max_length=200)


class RejectRequest(Storable):
    reason: str = Field(min_length=1, max_length=2_000)
    labels: dict[str, str] = Field(default_factory=dict)
    reviewer: str | None = Field(default=None, max_length=200)


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


router = APIRouter(prefix="/api/reviews", tags=["review"], dependencies=[Depends(require_token)])


@router.get("", summary="Drafts waiting for review, the soonest SLA first")
def list_reviews(
    request: Request,
    state: str | None = Query("pending", description="pending, approved, edited, rejected; empty for all"),
    tenant: str | None = None,
    queue: str | None = None,
    priority: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    items = _runtime(request).reviews.list(state=state or None, tenant=tenant, queue=queue, priority=priority,
                                           limit=limit)  # fmt: skip
    return {"items": [for_display(r.as_dict()) for r in items]}


@router.get("/{review_id}", summary="One review: the ticket, its triage result and evidence, and who may be assigned")
def show_review(request: Request, review_id: str) -> dict[str, Any]:
    runtime = _runtime(request)
    review = _review_or_404(runtime, review_id)
    return {**runtime.review_detail(review), "assignees": assignee_choices(runtime, review.tenant)}


def _review_or_404(runtime: ServiceRuntime, review_id: str) -> Review:
    review = runtime.reviews.get(review_id)
    if review is None:
        raise HTTPException(404, detail=f"no review {review_id}")
    return review


def _checked_labels(runtime: ServiceRuntime, review: Review, labels: dict[str, str]) -> dict[str, str]:
    """The corrected labels, validated as `caseworker ingest` validates a row's (422 naming the label); the
    assignee (the person label) must be an active agent on the review's tenant's roster."""
    result = runtime.components.history.result_by_seq(review.result_seq)
    space = review_label_space(result, runtime.context) if result is not None else None
    given = dict(labels)
    person = given.pop(runtime.settings.routing_person_label, None)
    try:
        checked = check_labels(given, space)
        if label_text(person):
            checked[runtime.settings.routing_person_label] = check_assignee(runtime, review.tenant, person)
    except LabelError as exc:
        raise HTTPException(422, detail=f"labels.{exc.field}: {exc.reason}") from None
    return checked


def _decide(request: Request, review_id: str, decision: ReviewDecision) -> dict[str, Any]:
    try:
        review = _runtime(request).decide(review_id, decision)
    except KeyError as exc:
        raise HTTPException(404, detail=f"no review {review_id}") from exc
    except ReviewConflict as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return {"review": for_display(review.as_dict()), "undo_s": undo_seconds(_runtime(request), review)}


@router.post("/{review_id}/approve", summary="Approve the draft, or an edited reply; queues it for the helpdesk")
def approve(request: Request, review_id: str, body: ApproveRequest) -> dict[str, Any]:
    runtime = _runtime(request)
    review = _review_or_404(runtime, review_id)
    labels = _checked_labels(runtime, review, body.labels)
    result = runtime.components.history.result_by_seq(review.result_seq) or {}
    draft = (result.get("draft") or {}).get("body")
    edited = body.reply is not None and body.reply.strip() != (draft or "").strip()
    if edited and not body.reply.strip():
        raise HTTPException(422, detail="reply: an approved reply can't be empty (reject the draft instead)")
    decision = ReviewDecision(
        outcome="edited" if edited else "approved",
        reply=body.reply if edited else draft,
        labels=labels,
        confirmed_fields=body.confirmed_fields,
        reviewer=body.reviewer,
    )
    return _decide(request, review_id, decision)


@router.post("/{review_id}/reject", summary="Reject the draft with a reason (and corrected labels)")
def reject(request: Request, review_id: str, body: RejectRequest) -> dict[str, Any]:
    runtime = _runtime(request)
    labels = _checked_labels(runtime, _review_or_404(runtime, review_id), body.labels)
    decision = ReviewDecision(outcome="rejected", reason=body.reason, labels=labels, reviewer=body.reviewer)
    return _decide(request, review_id, decision)


@router.post("/{review_id}/undo", summary="Withdraw an approval within its undo window; 409 once it has closed")
def undo(request: Request, review_id: str, body: UndoRequest | None = None) -> dict[str, Any]:
    try:
        review, withdrawn = _runtime(request).undo(review_id, body.by if body else None)
    except KeyError as exc:
        raise HTTPException(404, detail=f"no review {review_id}") from exc
    except ReviewConflict as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return {"review": for_display(review.as_dict()), "withdrawn": withdrawn.model_dump(exclude={"scheduled_job"})}

"""Where the graph hands what it decided: the agent knows no queue, review table or helpdesk.

The batch CLI and evals record results to the history (`HistorySink`); the service's sink
(service/result_sink.py) stores the result, completes its job, opens its review and queues the
write-backs in one transaction, and later stores the human decision with the reply's write-back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from agent.schemas import TriageResult
from knowledge.history import History
from knowledge.reviews import ReviewDecision
from knowledge.schemas import Ticket


@dataclass(frozen=True)
class ReviewOutcome:
    """A human decision on a draft, as the graph worked it out (see agent/review.py)."""

    decision: ReviewDecision
    #: The ticket as the human left it: labels with provenance, the reply sent (if any).
    reviewed: Ticket
    #: The labels a human stands behind (confirmed or corrected) and their provenance.
    human_labels: dict[str, str]
    human_sources: dict[str, str]
    draft: str | None
    reply: str | None


class ResultSink(Protocol):
    #: A human decides this run's drafts: the graph pauses after storing the result until a decision arrives.
    reviews_drafts: bool

    def store_result(self, ticket: Ticket, result: TriageResult, audit: dict[str, Any]) -> None:
        """Store the result and its audit detail (raises if the run lost the right to store it)."""
        ...

    def store_review(self, ticket: Ticket, result: TriageResult, outcome: ReviewOutcome) -> None:
        """Store a human decision on this run's draft."""
        ...


class HistorySink:
    """Batch runs (CLI, evals): the result joins the history; nothing pauses for a human."""

    reviews_drafts = False

    def __init__(self, history: History) -> None:
        self.history = history

    def store_result(self, ticket: Ticket, result: TriageResult, audit: dict[str, Any]) -> None:
        self.history.record_result(result.model_dump(mode="json"), audit_detail=audit)

    def store_review(self, ticket: Ticket, result: TriageResult, outcome: ReviewOutcome) -> None:
        raise RuntimeError("a batch run never pauses for review, so it has no decision to store")

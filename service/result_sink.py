"""The service's ResultSink: one job's run of the graph, stored as the service needs it.

A result is stored with its audit row, completes the job's lease, supersedes the ticket's older pending
reviews, opens a review (drafts) or an escalation, and queues the helpdesk write-backs: all in one
transaction, so a crash leaves either all of it or none (and the job runs again). A human decision on
the draft is stored with the reply's write-back job, and a reviewer's changed assignee with its assignment
write-back job, the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.schemas import Action, TriageResult
from agent.sink import ReviewOutcome
from knowledge.history import History
from knowledge.jobs import JobLease
from knowledge.reviews import ReviewBook, review_id_for
from knowledge.roster import Roster
from knowledge.schemas import Ticket
from service.writeback_plan import reply_writeback, review_assignment_writeback, triage_writebacks


@dataclass
class JobSink:
    history: History
    job_id: str
    #: The worker's lease on the job: needed to store a result (not to store a later review decision).
    lease: JobLease | None
    #: Attempts each write-back job queued here gets before it is dead.
    max_attempts: int
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Maps a suggested assignee to their id in the ticket's helpdesk (assignment write-back).
    roster: Roster | None = None
    reviews_drafts: bool = True
    #: The label a reviewer's assignee pick is stored under (settings.routing_person_label).
    person_label: str = "assignee"
    #: Helpdesks whose assignment write-back is on (`<name>_assign`): a reviewer's changed pick is written there.
    assigns: frozenset[str] = frozenset()

    def store_result(self, ticket: Ticket, result: TriageResult, audit: dict[str, Any]) -> None:
        if self.lease is None:
            raise RuntimeError(f"job {self.job_id}: a result is stored only under the worker's lease")
        needs_review = result.decision.action == Action.DRAFT_FOR_REVIEW
        self.history.record_result(
            result.model_dump(mode="json"),
            audit_detail=audit,
            job=self.lease,
            review_subject=ticket.subject if needs_review else None,
            follow_ups=triage_writebacks(ticket, result, self.job_id, self.roster),
            max_attempts=self.max_attempts,
        )

    def store_review(self, ticket: Ticket, result: TriageResult, outcome: ReviewOutcome) -> None:
        review_id = review_id_for(self.job_id)
        reply = reply_writeback(ticket, outcome.reply, review_id) if outcome.reply else None
        picked = outcome.decision.labels.get(self.person_label)
        assign = review_assignment_writeback(ticket, result, picked, review_id, self.roster, self.assigns)
        ReviewBook(self.history).decide(
            review_id,
            outcome.decision,
            labels=outcome.human_labels,
            label_sources=outcome.human_sources,
            draft=outcome.draft,
            ticket=outcome.reviewed,
            follow_ups=[job for job in (reply, assign) if job is not None],
            max_attempts=self.max_attempts,
            now=self.clock().timestamp(),
        )

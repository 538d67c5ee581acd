"""Drafts waiting for a human, and the decisions humans made, in the history database.

A review row is created in the same transaction that stores the triage result, so a draft that needs a
human is never lost. A decision is stored once (a second decision on the same review is refused) with
its `review` audit event (what fine-tuning and evals read), the corrected labels and final reply on the
ticket (what retraining reads), and the write-back job that sends the reply, all in one transaction.

An approval waits out an undo window first: `schedule` stores it as a `decision` job whose not-before
time is the end of the window and marks the review `scheduled`; `undo` cancels that job and puts the
review back to pending. Only when the job runs is the decision applied (the paused graph resumed), so an
undone approval leaves nothing behind: no reply, no training label, no retrieval entry, one result.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from knowledge.db import Tx, table_columns
from knowledge.jobs import NewJob, cancel_job, insert_job
from knowledge.schemas import Ticket

if TYPE_CHECKING:
    from knowledge.history import History

ReviewState = Literal["pending", "scheduled", "approved", "edited", "rejected", "superseded"]
REVIEW_STATES: tuple[str, ...] = ("pending", "scheduled", "approved", "edited", "rejected", "superseded")

REVIEWS_SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    job_id TEXT NOT NULL UNIQUE,
    result_seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    subject TEXT NOT NULL,
    queue TEXT,
    category TEXT,
    priority TEXT,
    first_response_due TEXT,
    created_at TEXT NOT NULL,
    decided_at TEXT,
    reviewer TEXT,
    decision TEXT,
    undo_job_id TEXT,
    send_at TEXT,
    grounded INTEGER,
    grounding_note TEXT
);
CREATE INDEX IF NOT EXISTS reviews_queue ON reviews (state, first_response_due);
CREATE INDEX IF NOT EXISTS reviews_ticket ON reviews (tenant, ticket_id, state);
"""


class ReviewConflict(RuntimeError):
    """The review is no longer pending: another agent decided it, or a newer triage superseded it."""

    @classmethod
    def about(cls, review_id: str, state: str, ticket_id: str, reviewer: str | None) -> ReviewConflict:
        if state == "superseded":
            return cls(f"review {review_id} was superseded by a newer triage of {ticket_id}")
        if state == "scheduled":
            return cls(f"review {review_id} was already approved by {reviewer or 'someone'} (in its undo window)")
        return cls(f"review {review_id} was already {state} by {reviewer or 'someone'}")


def review_id_for(job_id: str) -> str:
    """A review is opened by one triage job and named after it."""
    return f"r-{job_id.removeprefix('j-')}"


class ReviewDecision(BaseModel):
    """A human's decision on a draft; `labels` holds only the fields the human corrected.

    `confirmed_fields` are the fields the reviewer was shown as editable (None: every predicted field
    but language). Approving confirms those of them a model predicted; a rule-made field becomes a
    label only when the reviewer changed it.
    """

    outcome: Literal["approved", "edited", "rejected"]
    reply: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    confirmed_fields: list[str] | None = None
    reason: str | None = None
    reviewer: str | None = None
    #: The decision job that applies a scheduled approval; None for a decision applied at once.
    scheduled_job: str | None = None


class ScheduledDecision(BaseModel):
    """The payload of a `decision` job: which review, and what the reviewer decided."""

    review_id: str
    decision: ReviewDecision


@dataclass(frozen=True)
class Review:
    id: str
    tenant: str
    ticket_id: str
    job_id: str
    result_seq: int
    state: ReviewState
    subject: str
    queue: str | None
    category: str | None
    priority: str | None
    first_response_due: str | None
    created_at: str
    decided_at: str | None
    reviewer: str | None
    decision: str | None
    undo_job_id: str | None = None
    #: When a scheduled approval is applied and its reply sent (ISO); undo is possible until then.
    send_at: str | None = None
    #: From the stored result's draft: False marks "no grounded answer" (a holding reply), with the reason.
    grounded: bool | None = None
    grounding_note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["decision"] = json.loads(self.decision) if self.decision else None
        return out

    @classmethod
    def from_row(cls, row: Any) -> Review:
        values = dict(row)
        if values.get("grounded") is not None:
            values["grounded"] = bool(values["grounded"])
        return cls(**values)


_SELECT = "SELECT * FROM reviews"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _check_decidable(row: Any, decision: ReviewDecision) -> None:
    """A pending review takes a decision at once; a scheduled one only from the job that scheduled it."""
    if row["state"] == "scheduled" and decision.scheduled_job and decision.scheduled_job == row["undo_job_id"]:
        return
    if row["state"] == "pending" and decision.scheduled_job:
        raise ReviewConflict(f"review {row['id']}: its approval was undone")
    if row["state"] != "pending":
        raise ReviewConflict.about(row["id"], row["state"], row["ticket_id"], row["reviewer"])


def _audit(conn: Tx, row: Any, event: str, detail: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO audit (at, tenant, ticket_id, event, detail) VALUES (?, ?, ?, ?, ?)",
        (_now(), row["tenant"], row["ticket_id"], event, json.dumps(detail, sort_keys=True)),
    )


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def migrate_reviews(conn: Tx) -> None:
    columns = table_columns(conn, "reviews")
    for name in ("undo_job_id", "send_at"):
        if name not in columns:
            conn.execute(f"ALTER TABLE reviews ADD COLUMN {name} TEXT")


def supersede_pending(conn: Tx, tenant: str, ticket_id: str) -> int:
    """A newer triage of the ticket was stored (inside the caller's transaction): its pending reviews are stale,
    whatever the newer result decided (a follow-up that escalates leaves nothing to approve). Returns how many."""
    cursor = conn.execute(
        "UPDATE reviews SET state = 'superseded', decided_at = ? WHERE tenant = ? AND ticket_id = ? "
        "AND state = 'pending'",
        (_now(), tenant, ticket_id),
    )
    return cursor.rowcount


def insert_review(conn: Tx, job_id: str, result_seq: int, result: dict[str, Any], subject: str) -> str:
    """Open a pending review for a stored result (inside the caller's transaction); the id is the job's.

    Call `supersede_pending` first: agents review the latest text only.
    """
    labels = result["classification"]
    grounded, note = draft_grounding(result)
    conn.execute(
        "INSERT INTO reviews (id, tenant, ticket_id, job_id, result_seq, state, subject, queue, category, priority, "
        "first_response_due, created_at, grounded, grounding_note) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, "
        "?, ?)",
        (
            review_id_for(job_id),
            result["tenant"],
            result["ticket_id"],
            job_id,
            result_seq,
            subject,
            # A history that never labelled queue or category leaves them null in the result.
            (labels.get("queue") or {}).get("value"),
            (labels.get("category") or {}).get("value"),
            labels["priority"]["value"],
            (result.get("sla") or {}).get("first_response_due"),
            _now(),
            grounded,
            note,
        ),
    )
    return review_id_for(job_id)


def draft_grounding(result: dict[str, Any]) -> tuple[int | None, str | None]:
    """(1 or 0, the note) from a result's draft; (None, None) without a draft. A draft stored before `grounded`
    existed was grounded."""
    draft = result.get("draft")
    if not isinstance(draft, dict):
        return None, None
    return int(bool(draft.get("grounded", True))), draft.get("grounding_note")


def migrate_review_grounding(conn: Tx) -> None:
    """Reviews opened before the review list showed grounding get it from their stored result."""
    if "grounded" not in table_columns(conn, "reviews"):
        conn.execute("ALTER TABLE reviews ADD COLUMN grounded INTEGER")
        conn.execute("ALTER TABLE reviews ADD COLUMN grounding_note TEXT")
    rows = conn.execute(
        "SELECT reviews.id, results.data FROM reviews JOIN results ON results.seq = reviews.result_seq "
        "WHERE reviews.grounded IS NULL"
    ).fetchall()
    for review_id, data in rows:
        grounded, note = draft_grounding(json.loads(data))
        if grounded is not None:
            conn.execute(
                "UPDATE reviews SET grounded = ?, grounding_note = ? WHERE id = ?", (grounded, note, review_id)
            )


class ReviewBook:
    """Reads and decides reviews over the history database's connection."""

    def __init__(self, history: History) -> None:
        self.history = history

    def get(self, review_id: str) -> Review | None:
        row = self.history.query_one(f"{_SELECT} WHERE id = ?", (review_id,))
        return Review.from_row(row) if row else None

    def list(
        self,
        state: str | None = "pending",
        tenant: str | None = None,
        queue: str | None = None,
        priority: str | None = None,
        ticket_id: str | None = None,
        limit: int = 100,
    ) -> list[Review]:
        """Oldest SLA first: the draft whose first response is due soonest is the one to review next."""
        query, params = f"{_SELECT} WHERE 1 = 1", []
        filters = (("state", state), ("tenant", tenant), ("queue", queue), ("priority", priority),
                   ("ticket_id", ticket_id))  # fmt: skip
        for column, value in filters:
            if value:
                query, params = query + f" AND reviews.{column} = ?", [*params, value]
        query += " ORDER BY reviews.first_response_due IS NULL, reviews.first_response_due, reviews.created_at LIMIT ?"
        return [Review.from_row(r) for r in self.history.query(query, (*params, limit))]

    def decide(
        self,
        review_id: str,
        decision: ReviewDecision,
        labels: dict[str, str],
        label_sources: dict[str, str],
        draft: str | None,
        ticket: Ticket | None,
        follow_ups: Sequence[NewJob],
        max_attempts: int,
        now: float,
    ) -> Review:
        """Store the decision, its audit event, the corrected ticket and its write-back jobs (the reply, a
        changed assignee) at once.

        `labels` are the labels a human stands behind (confirmed or corrected): the contract the
        fine-tuning pipeline reads, with their `label_sources`; `decision.labels` (only what was
        corrected) is kept as `corrected`.
        """
        with self.history.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM reviews WHERE id = ?" + self.history.db.for_update, (review_id,)
            ).fetchone()
            if row is None:
                raise KeyError(review_id)
            _check_decidable(row, decision)
            detail = {
                "outcome": decision.outcome,
                "labels": labels,
                "label_sources": label_sources,
                "corrected": decision.labels,
                "reply": decision.reply if decision.outcome != "rejected" else None,
                "draft": draft,
                "reason": decision.reason,
                "reviewer": decision.reviewer,
                "review_id": review_id,
            }
            conn.execute(
                "UPDATE reviews SET state = ?, decided_at = ?, reviewer = ?, decision = ? WHERE id = ?",
                (decision.outcome, _now(), decision.reviewer, json.dumps(detail, sort_keys=True), review_id),
            )
            conn.execute(
                "INSERT INTO audit (at, tenant, ticket_id, event, detail) VALUES (?, ?, ?, 'review', ?)",
                (_now(), row["tenant"], row["ticket_id"], json.dumps(detail, sort_keys=True)),
            )
            if ticket is not None:
                self.history.upsert_tickets_in(conn, [ticket])
            for job in follow_ups:
                insert_job(conn, job, max_attempts, now)
            return Review.from_row(conn.execute(f"{_SELECT} WHERE id = ?", (review_id,)).fetchone())

    def schedule(
        self, review_id: str, decision: ReviewDecision, delay_s: float, max_attempts: int, now: float
    ) -> Review:
        """Queue an approval to be applied after `delay_s` (the undo window), as a `decision` job."""
        with self.history.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM reviews WHERE id = ?" + self.history.db.for_update, (review_id,)
            ).fetchone()
            if row is None:
                raise KeyError(review_id)
            _check_decidable(row, decision)
            job = NewJob(
                kind="decision",
                source="review",
                # A review can be approved, undone and approved again: each approval is its own job.
                delivery_id=f"decision:{review_id}:{uuid.uuid4().hex[:12]}",
                tenant=row["tenant"],
                ticket_id=row["ticket_id"],
                payload=ScheduledDecision(review_id=review_id, decision=decision).model_dump_json(),
                not_before=now + delay_s,
            )
            job_id, _ = insert_job(conn, job, max_attempts, now)
            conn.execute(
                "UPDATE reviews SET state = 'scheduled', reviewer = ?, undo_job_id = ?, send_at = ? WHERE id = ?",
                (decision.reviewer, job_id, _stamp(now + delay_s), review_id),
            )
            detail = {"review_id": review_id, "job_id": job_id, "outcome": decision.outcome,
                      "reviewer": decision.reviewer, "send_at": _stamp(now + delay_s)}  # fmt: skip
            _audit(conn, row, "review_scheduled", detail)
            return Review(**dict(conn.execute("SELECT * FROM reviews WHERE id = ?", (review_id,)).fetchone()))

    def undo(self, review_id: str, by: str | None, now: float) -> tuple[Review, ReviewDecision]:
        """Cancel a scheduled approval within its window: the review is pending again, nothing was sent.

        Returns the review and the decision that was withdrawn (so the page can restore the agent's edits).
        """
        with self.history.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM reviews WHERE id = ?" + self.history.db.for_update, (review_id,)
            ).fetchone()
            if row is None:
                raise KeyError(review_id)
            if row["state"] != "scheduled":
                raise ReviewConflict(f"review {review_id} has no approval to undo: it is {row['state']}")
            job = conn.execute("SELECT payload FROM jobs WHERE id = ?", (row["undo_job_id"],)).fetchone()
            if job is None or not cancel_job(conn, row["undo_job_id"], now):
                raise ReviewConflict(f"review {review_id}: the undo window has closed and the reply is being sent")
            conn.execute(
                "UPDATE reviews SET state = 'pending', reviewer = NULL, undo_job_id = NULL, send_at = NULL "
                "WHERE id = ?",
                (review_id,),
            )
            withdrawn = ScheduledDecision.model_validate_json(job["payload"]).decision
            detail = {"review_id": review_id, "job_id": row["undo_job_id"], "by": by,
                      "approved_by": row["reviewer"], "outcome": withdrawn.outcome}  # fmt: skip
            _audit(conn, row, "review_undone", detail)
            review = Review(**dict(conn.execute("SELECT * FROM reviews WHERE id = ?", (review_id,)).fetchone()))
            return review, withdrawn

    def counts(self) -> dict[str, int]:
        rows = self.history.query("SELECT state, COUNT(*) AS n FROM reviews GROUP BY state", ())
        return {row["state"]: int(row["n"]) for row in rows}

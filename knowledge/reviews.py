"""Drafts waiting for a human, and the decisions humans made, in the history database.

A review row is created in the same transaction that stores the triage result, so a draft that needs a
human is never lost. A decision is stored once (a second decision on the same review is refused) with
its `review` audit event (what fine-tuning and evals read), the corrected labels and final reply on the
ticket (what retraining reads), and the write-back job that sends the reply, all in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from knowledge.jobs import NewJob, insert_job
from knowledge.schemas import Ticket

if TYPE_CHECKING:
    from knowledge.history import History

ReviewState = Literal["pending", "approved", "edited", "rejected", "superseded"]

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
    decision TEXT
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
        return cls(f"review {review_id} was already {state} by {reviewer or 'someone'}")


def review_id_for(job_id: str) -> str:
    """A review is opened by one triage job and named after it."""
    return f"r-{job_id.removeprefix('j-')}"


class ReviewDecision(BaseModel):
    """A human's decision on a draft; `labels` holds only the fields the human corrected."""

    outcome: Literal["approved", "edited", "rejected"]
    reply: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    reason: str | None = None
    reviewer: str | None = None


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
    #: From the stored result's draft: False marks "no grounded answer" (a holding reply), with the reason.
    grounded: bool | None = None
    grounding_note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["decision"] = json.loads(self.decision) if self.decision else None
        return out

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Review:
        values = dict(row)
        if values.get("grounded") is not None:
            values["grounded"] = bool(values["grounded"])
        return cls(**values)


# The review row plus whether its draft is grounded; a stored draft from before `grounded` existed was.
_SELECT = (
    "SELECT reviews.*, CASE WHEN json_type(results.data, '$.draft') = 'object' "
    "THEN COALESCE(json_extract(results.data, '$.draft.grounded'), 1) END AS grounded, "
    "json_extract(results.data, '$.draft.grounding_note') AS grounding_note "
    "FROM reviews LEFT JOIN results ON results.seq = reviews.result_seq"
)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def insert_review(conn: sqlite3.Connection, job_id: str, result_seq: int, result: dict[str, Any], subject: str) -> str:
    """Open a pending review for a stored result (inside the caller's transaction); the id is the job's.

    A pending review of an older version of the same ticket is superseded: agents review the latest text.
    """
    labels = result["classification"]
    conn.execute(
        "UPDATE reviews SET state = 'superseded', decided_at = ? WHERE tenant = ? AND ticket_id = ? "
        "AND state = 'pending'",
        (_now(), result["tenant"], result["ticket_id"]),
    )
    conn.execute(
        "INSERT INTO reviews (id, tenant, ticket_id, job_id, result_seq, state, subject, queue, category, priority, "
        "first_response_due, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
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
        ),
    )
    return review_id_for(job_id)


class ReviewBook:
    """Reads and decides reviews over the history database's connection."""

    def __init__(self, history: History) -> None:
        self.history = history

    def get(self, review_id: str) -> Review | None:
        row = self.history.query_one(f"{_SELECT} WHERE reviews.id = ?", (review_id,))
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
        draft: str | None,
        ticket: Ticket | None,
        follow_up: NewJob | None,
        max_attempts: int,
        now: float,
    ) -> Review:
        """Store the decision, its audit event, the corrected ticket and the reply's write-back job at once.

        `labels` are the labels as the reviewer left them (corrections included): the contract the
        fine-tuning pipeline reads; `decision.labels` (only what was corrected) is kept as `corrected`.
        """
        with self.history.transaction() as conn:
            row = conn.execute("SELECT * FROM reviews WHERE id = ?", (review_id,)).fetchone()
            if row is None:
                raise KeyError(review_id)
            if row["state"] != "pending":
                raise ReviewConflict.about(review_id, row["state"], row["ticket_id"], row["reviewer"])
            detail = {
                "outcome": decision.outcome,
                "labels": labels,
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
            if follow_up is not None:
                insert_job(conn, follow_up, max_attempts, now)
            return Review.from_row(conn.execute(f"{_SELECT} WHERE reviews.id = ?", (review_id,)).fetchone())

    def counts(self) -> dict[str, int]:
        rows = self.history.query("SELECT state, COUNT(*) AS n FROM reviews GROUP BY state", ())
        return {row["state"]: int(row["n"]) for row in rows}

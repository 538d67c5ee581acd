"""The undo window of an approval, as the review API reports it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from knowledge.reviews import Review
from service.runtime import ServiceRuntime


class UndoRequest(BaseModel):
    #: Who withdrew the approval (audited); the page sends its reviewer name.
    by: str | None = Field(default=None, max_length=200)


def undo_seconds(runtime: ServiceRuntime, review: Review) -> float | None:
    """Seconds left to undo a scheduled approval, by the server's clock (the page counts down from it)."""
    if review.state != "scheduled" or not review.send_at:
        return None
    return round(max(0.0, datetime.fromisoformat(review.send_at).timestamp() - runtime.queue.clock()), 3)

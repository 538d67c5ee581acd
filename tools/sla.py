"""SLA targets per priority and the due times they give a ticket."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field


class SlaDue(BaseModel):
    priority: str
    first_response_due: datetime
    resolution_due: datetime
    at_risk: bool


class SlaTarget(BaseModel):
    first_response_minutes: int = Field(gt=0)
    resolution_minutes: int = Field(gt=0)


def _default_targets() -> dict[str, SlaTarget]:
    return {
        "P0": SlaTarget(first_response_minutes=15, resolution_minutes=4 * 60),
        "P1": SlaTarget(first_response_minutes=60, resolution_minutes=24 * 60),
        "P2": SlaTarget(first_response_minutes=4 * 60, resolution_minutes=72 * 60),
        "P3": SlaTarget(first_response_minutes=24 * 60, resolution_minutes=168 * 60),
    }


class SlaPolicy(BaseModel):
    targets: dict[str, SlaTarget] = Field(default_factory=_default_targets)
    #: A ticket is at risk once less than this share of its first-response window is left.
    at_risk_fraction: float = Field(default=0.25, ge=0, le=1)

    def due(self, priority: str, created_at: datetime, now: datetime) -> SlaDue:
        target = self.targets[priority]
        first_window = timedelta(minutes=target.first_response_minutes)
        first_due = created_at + first_window
        resolution_due = created_at + timedelta(minutes=target.resolution_minutes)
        at_risk = (first_due - now) < first_window * self.at_risk_fraction
        return SlaDue(
            priority=priority,
            first_response_due=first_due,
            resolution_due=resolution_due,
            at_risk=at_risk,
        )

"""Synthetic ticket streams for the insights tests: arrivals with a daily and weekly shape, per tenant."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from knowledge.schemas import Customer, Ticket

#: A Monday, so weekdays line up with the weekly season.
EPOCH = datetime.fromisoformat("2026-03-02T00:00:00+00:00")


def hourly_rate(at: datetime, per_hour: float) -> float:
    """Busy working hours on weekdays, a quarter of that at night and at weekends."""
    busy = 8 <= at.hour < 18 and at.weekday() < 5
    return per_hour if busy else per_hour / 4


def stream(tenant: str, days: int, per_hour: float, seed: int = 0, queue: str | None = "billing",
           start: datetime = EPOCH, prefix: str = "T") -> list[Ticket]:  # fmt: skip
    """Poisson arrivals over `days` days from `start`, spread evenly inside each hour."""
    rng = np.random.default_rng(seed)
    tickets = []
    for hour in range(days * 24):
        at = start + timedelta(hours=hour)
        n = int(rng.poisson(hourly_rate(at, per_hour)))
        for i in range(n):
            created = at + timedelta(minutes=60 * (i + 0.5) / n)
            tickets.append(
                Ticket(id=f"{prefix}{hour}-{i}", tenant=tenant, subject="s", body="b", created_at=created,
                       labels={"queue": queue} if queue else {}, customer=Customer(id=f"c{i % 7}"))
            )  # fmt: skip
    return tickets

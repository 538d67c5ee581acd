"""Ticket arrival times as count series: one bin per hour or per day (UTC), empty bins counted as zero."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np

Freq = Literal["hour", "day"]
STEP: dict[Freq, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
#: The seasons a series of that frequency repeats with: a day of hours, a week of days (and of hours).
SEASON: dict[Freq, int] = {"hour": 24, "day": 7}
WEEK: dict[Freq, int] = {"hour": 168, "day": 7}


def aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def floor(value: datetime, freq: Freq) -> datetime:
    value = aware(value).replace(minute=0, second=0, microsecond=0)
    return value.replace(hour=0) if freq == "day" else value


def counts(times: Iterable[datetime], start: datetime, end: datetime, freq: Freq) -> np.ndarray:
    """How many of `times` fall in each bin from floor(start) up to (not including) floor(end)."""
    first, last = floor(start, freq), floor(end, freq)
    step = STEP[freq].total_seconds()
    n = max(0, int((last - first).total_seconds() // step))
    out = np.zeros(n, dtype=float)
    origin = first.timestamp()
    for at in times:
        index = int((aware(at).timestamp() - origin) // step)
        if 0 <= index < n:
            out[index] += 1
    return out


def bin_starts(start: datetime, n: int, freq: Freq) -> list[datetime]:
    first = floor(start, freq)
    return [first + i * STEP[freq] for i in range(n)]

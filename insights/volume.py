"""Volume per tenant and queue, read from history: arrivals, the 7-day forecast with the staff it needs,
and anomalies (recent counts outside the 95 % interval of a forecast made just before them).

A ticket's queue is its labelled queue, else the queue its latest triage result predicted; tickets with
neither count toward the tenant's total only. Tickets come from the history's tickets table and, for those
the service's webhooks brought, from their first triage job. Every query is filtered by tenant.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from insights.forecast import Forecast, Method, forecast, predict
from insights.series import Freq, aware, bin_starts, counts, floor
from insights.staffing import StaffingPolicy, agents_needed
from knowledge.history import History

ALL = "*"
HORIZON_DAYS = 7
#: Arrivals older than this are not read: the models look at weeks, not years.
HISTORY_DAYS = 12 * 7


class StaffingHour(BaseModel):
    at: datetime
    expected: float
    agents: int
    #: Agents for the upper 80 % bound: the cautious plan.
    agents_hi80: int


class QueueForecast(BaseModel):
    tenant: str
    queue: str
    hourly: Forecast
    daily: Forecast
    staffing: list[StaffingHour]


class Anomaly(BaseModel):
    tenant: str
    queue: str
    freq: Freq
    at: datetime
    actual: int
    expected: float
    lo95: float
    hi95: float
    direction: Literal["up", "down"]


def arrivals(history: History, tenant: str, since: datetime, until: datetime) -> dict[str, list[datetime]]:
    """Creation times by queue (and all of them under ALL) for the tenant's tickets in [since, until)."""
    predicted: dict[str, str] = {}
    for row in history.query("SELECT ticket_id, data FROM results WHERE tenant = ? ORDER BY seq", (tenant,)):
        queue = ((json.loads(row["data"]).get("classification") or {}).get("queue") or {}).get("value")
        if queue:
            predicted[row["ticket_id"]] = str(queue)
    by_queue: dict[str, list[datetime]] = defaultdict(list)
    rows = history.query(
        "SELECT id, created_at, data FROM tickets WHERE tenant = ? AND created_at >= ? AND created_at < ?",
        (tenant, aware(since).isoformat(), aware(until).isoformat()),
    )
    seen = set()
    for row in rows:
        at = datetime.fromisoformat(row["created_at"])
        seen.add(row["id"])
        by_queue[ALL].append(at)
        queue = (json.loads(row["data"]).get("labels") or {}).get("queue") or predicted.get(row["id"])
        if queue:
            by_queue[str(queue)].append(at)
    # Tickets the service's webhooks brought (not stored as history tickets): when their first triage job came.
    jobs = history.query(
        "SELECT ticket_id, MIN(created_at) AS at FROM jobs WHERE kind = 'triage' AND tenant = ? AND created_at >= ? "
        "AND created_at < ? GROUP BY ticket_id",
        (tenant, aware(since).isoformat(), aware(until).isoformat()),
    )
    for row in jobs:
        if row["ticket_id"] is None or row["ticket_id"] in seen:
            continue
        at = datetime.fromisoformat(row["at"])
        by_queue[ALL].append(at)
        if queue := predicted.get(row["ticket_id"]):
            by_queue[queue].append(at)
    return dict(by_queue)


def _staffing(hourly: Forecast, policy: StaffingPolicy) -> list[StaffingHour]:
    return [
        StaffingHour(at=p.at, expected=p.mean, agents=agents_needed(p.mean, policy),
                     agents_hi80=agents_needed(p.hi80, policy))
        for p in hourly.points
    ]  # fmt: skip


def volume_forecast(history: History, tenant: str, now: datetime, policy: StaffingPolicy | None = None,
                    queue: str | None = None, method: Method = "auto") -> list[QueueForecast]:  # fmt: skip
    """Next 7 days, hourly and daily, per queue (ALL = the tenant's total), from complete bins before `now`."""
    policy = policy or StaffingPolicy()
    start = floor(now, "day") - timedelta(days=HISTORY_DAYS)
    out = []
    for name, times in sorted(arrivals(history, tenant, start, now).items()):
        if queue is not None and name != queue:
            continue
        hours = counts(times, start, now, "hour")
        days = counts(times, start, now, "day")
        hourly = forecast(hours, floor(now, "hour"), "hour", HORIZON_DAYS * 24, method)
        daily = forecast(days, floor(now, "day"), "day", HORIZON_DAYS, method)
        out.append(QueueForecast(tenant=tenant, queue=name, hourly=hourly, daily=daily,
                                 staffing=_staffing(hourly, policy)))  # fmt: skip
    return out


def anomalies(history: History, tenant: str, now: datetime, lookback_hours: int = 24,
              method: Method = "auto") -> list[Anomaly]:  # fmt: skip
    """Hours of the last `lookback_hours` (complete ones) whose count is outside the 95 % interval of the
    forecast made from the history before them, per queue; up (a flood) or down (a silent intake)."""
    window_end = floor(now, "hour")
    window_start = window_end - timedelta(hours=lookback_hours)
    start = floor(window_start, "day") - timedelta(days=HISTORY_DAYS)
    found: list[Anomaly] = []
    for name, times in sorted(arrivals(history, tenant, start, window_end).items()):
        train = counts(times, start, window_start, "hour")
        actual = counts(times, window_start, window_end, "hour")
        # Uncalibrated bands (the model's, Poisson-floored): the conformal calibration scores the last weeks,
        # which would include the anomaly in progress (a flood an hour ago, an intake silent since yesterday)
        # and widen the very band it is judged by.
        _, bands = predict(train, "hour", len(actual), method, calibrate=False)
        for i, at in enumerate(bin_starts(window_start, len(actual), "hour")):
            value, lo, hi = int(actual[i]), float(bands["lo95"][i]), float(bands["hi95"][i])
            if lo <= value <= hi:
                continue
            found.append(Anomaly(tenant=tenant, queue=name, freq="hour", at=at, actual=value,
                                 expected=round(float(bands["mean"][i]), 3), lo95=round(lo, 3), hi95=round(hi, 3),
                                 direction="up" if value > hi else "down"))  # fmt: skip
    return found

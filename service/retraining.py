"""Learning from feedback: the workers retrain a tenant's model by themselves, through the same gate.

A retrain is a queued job (kind `retrain`), so exactly one worker runs it, a crash reruns it, and the
idempotency key makes a burst of triggers one job: `retrain:<tenant>:after:<newest model>` once
`retrain_after_labels` review decisions arrived since that model was trained, and
`retrain:<tenant>:every:<period>` once per `retrain_every_s` when there is anything new to learn.
A promoted model reaches every process by hot reload (agent.model_provider).
"""

from __future__ import annotations

import json
import logging
import time

from knowledge.history import History
from knowledge.jobs import NewJob

log = logging.getLogger(__name__)

SOURCE = "caseworker"


def decisions_since_last_training(history: History, tenant: str) -> tuple[int, str | None]:
    """Human review decisions (each a human-labelled ticket) since the tenant's newest model, and its version."""
    newest = history.query_one(
        "SELECT version, created_at FROM models WHERE tenant = ? ORDER BY created_at DESC LIMIT 1", (tenant,)
    )
    since = newest["created_at"] if newest else ""
    row = history.query_one(
        "SELECT COUNT(*) AS n FROM reviews WHERE tenant = ? AND state IN ('approved', 'edited', 'rejected') "
        "AND decided_at > ?",
        (tenant, since),
    )
    return int(row["n"]) if row else 0, (str(newest["version"]) if newest else None)


def retrain_job(tenant: str, key: str, reason: str) -> NewJob:
    return NewJob(
        kind="retrain",
        source=SOURCE,
        delivery_id=f"retrain:{tenant}:{key}",
        tenant=tenant,
        ticket_id=None,
        payload=json.dumps({"tenant": tenant, "reason": reason}),
    )


def due_after_labels(history: History, tenant: str, threshold: int) -> NewJob | None:
    """A retrain job when `threshold` (> 0) decisions arrived since the newest model, else None."""
    if threshold <= 0:
        return None
    count, newest = decisions_since_last_training(history, tenant)
    if count < threshold:
        return None
    return retrain_job(tenant, f"after:{newest or 'none'}", f"{count} new review decisions")


def due_on_schedule(history: History, every_s: float, now: float | None = None) -> list[NewJob]:
    """One retrain job per tenant with new decisions, once per `every_s` (> 0) period."""
    if every_s <= 0:
        return []
    period = int((now if now is not None else time.time()) // every_s)
    jobs = []
    tenants = [str(r["tenant"]) for r in history.query("SELECT DISTINCT tenant FROM reviews", ())]
    for tenant in tenants:
        count, _ = decisions_since_last_training(history, tenant)
        if count:
            jobs.append(retrain_job(tenant, f"every:{period}", f"schedule: {count} new review decisions"))
    return jobs

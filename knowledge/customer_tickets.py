"""A customer's recent tickets within one tenant, for the review page's customer context.

Two places know a customer's tickets: the service's triage jobs (every ticket a webhook brought, with
the customer id set at intake) and the history's tickets table (imported, or stored once reviewed).
A ticket counts once however often it arrived; another tenant's tickets never count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from knowledge.schemas import Ticket

if TYPE_CHECKING:
    from knowledge.history import History

_RECENT = """
SELECT ticket_id, MAX(at) AS at FROM (
    SELECT ticket_id, created_at AS at FROM jobs
    WHERE kind = 'triage' AND tenant = ? AND customer_id = ? AND created_at >= ?
    UNION ALL
    SELECT id, created_at FROM tickets WHERE tenant = ? AND customer_id = ? AND created_at >= ?
) WHERE ticket_id IS NOT NULL AND ticket_id != ? GROUP BY ticket_id
"""


@dataclass(frozen=True)
class RecentTicket:
    ticket_id: str
    subject: str
    #: When it arrived (or, for a history ticket, was created), ISO.
    at: str
    source: str | None
    external_id: str | None
    review_id: str | None
    review_state: str | None


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def recent_customer_tickets(
    history: History, tenant: str, customer_id: str, since: datetime, exclude: str, limit: int = 10
) -> tuple[int, list[RecentTicket]]:
    """(how many other tickets the customer had since `since`, the newest `limit` of them)."""
    params = (tenant, customer_id, _iso(since), tenant, customer_id, _iso(since), exclude)
    count = history.query_one(f"SELECT COUNT(*) AS n FROM ({_RECENT})", params)
    rows = history.query(f"{_RECENT} ORDER BY at DESC, ticket_id LIMIT ?", (*params, limit))
    return int(count["n"] if count else 0), [_describe(history, tenant, row["ticket_id"], row["at"]) for row in rows]


def _describe(history: History, tenant: str, ticket_id: str, at: str) -> RecentTicket:
    job = history.query_one(
        "SELECT payload FROM jobs WHERE kind = 'triage' AND tenant = ? AND ticket_id = ? "
        "ORDER BY created_at DESC LIMIT 1",
        (tenant, ticket_id),
    )
    ticket = Ticket.model_validate_json(job["payload"]) if job else history.get_ticket(tenant, ticket_id)
    review = history.query_one(
        "SELECT id, state FROM reviews WHERE tenant = ? AND ticket_id = ? ORDER BY created_at DESC LIMIT 1",
        (tenant, ticket_id),
    )
    extra = ticket.extra if ticket else {}
    return RecentTicket(
        ticket_id=ticket_id,
        subject=ticket.subject if ticket else "",
        at=at,
        source=str(extra["source"]) if extra.get("source") else None,
        external_id=str(extra["external_id"]) if extra.get("external_id") else None,
        review_id=review["id"] if review else None,
        review_state=review["state"] if review else None,
    )

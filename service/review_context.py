"""What an agent wants beside a ticket: where it lives in its helpdesk, and the customer's recent tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from knowledge.customer_tickets import recent_customer_tickets
from knowledge.history import History
from knowledge.schemas import Ticket
from service.writeback_plan import helpdesk_of
from tools.helpdesk.registry import HelpdeskConfigs, ticket_url

RECENT_DAYS = 30
RECENT_SHOWN = 10


def helpdesk_link(source: str | None, external_id: str | None, configs: HelpdeskConfigs) -> str | None:
    return ticket_url(source, external_id, configs) if source and external_id else None


def review_link(review_id: str | None) -> str | None:
    """The review page opens the review named in its fragment."""
    return f"/review#{review_id}" if review_id else None


def ticket_context(
    history: History, ticket: Ticket, configs: HelpdeskConfigs, now: datetime | None = None
) -> dict[str, Any]:
    target = helpdesk_of(ticket)
    customer_id = ticket.customer.id if ticket.customer else None
    context: dict[str, Any] = {
        "helpdesk_url": helpdesk_link(*target, configs) if target else None,
        "customer_id": customer_id,
        "recent_days": RECENT_DAYS,
        "recent_count": None,
        "recent": [],
    }
    if not customer_id:
        return context
    since = (now or datetime.now(UTC)) - timedelta(days=RECENT_DAYS)
    count, recent = recent_customer_tickets(history, ticket.tenant, customer_id, since, ticket.id, RECENT_SHOWN)
    context["recent_count"] = count
    context["recent"] = [
        {
            "ticket_id": item.ticket_id,
            "subject": item.subject,
            "at": item.at,
            "review_id": item.review_id,
            "review_state": item.review_state,
            "review_url": review_link(item.review_id),
            "helpdesk_url": helpdesk_link(item.source, item.external_id, configs),
        }
        for item in recent
    ]
    return context

"""Account context for a ticket: tier, MRR and how often this customer wrote recently."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from knowledge.history import History
from knowledge.schemas import Ticket

HIGH_VALUE_TIERS = frozenset({"enterprise"})


class CustomerContext(BaseModel):
    customer_id: str | None = None
    name: str | None = None
    tier: str | None = None
    mrr: float | None = None
    tickets_last_30_days: int = 0

    @property
    def repeat_contact(self) -> bool:
        return self.tickets_last_30_days > 0

    def is_high_value(self, mrr_threshold: float) -> bool:
        return (self.tier or "").lower() in HIGH_VALUE_TIERS or (self.mrr or 0) >= mrr_threshold


def customer_context(history: History, ticket: Ticket, now: datetime) -> CustomerContext:
    customer = ticket.customer
    if customer is None or not customer.id:
        return CustomerContext(
            name=customer.name if customer else None,
            tier=customer.tier if customer else None,
            mrr=customer.mrr if customer else None,
        )
    recent = history.customer_ticket_count(ticket.tenant, customer.id, before=ticket.created_at or now)
    tier, mrr = customer.tier, customer.mrr
    if tier is None and mrr is None and (known := history.customer_profile(ticket.tenant, customer.id)):
        # A helpdesk webhook names the requester only; the history knows the account's tier and MRR.
        tier, mrr = known.tier, known.mrr
    return CustomerContext(
        customer_id=customer.id,
        name=customer.name,
        tier=tier,
        mrr=mrr,
        tickets_last_30_days=recent,
    )

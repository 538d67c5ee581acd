"""Generic source: any system that can POST Caseworker's own Ticket JSON, signed with the shared secret.

The ticket keeps the id it was given (the sender owns its id space); the delivery id comes from the
`X-Caseworker-Delivery` header, which the sender must keep the same when it retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from knowledge.schemas import Ticket
from service.webhooks.delivery import Delivery
from service.webhooks.normalise import delivery_key, validate

DELIVERY_HEADER = "X-Caseworker-Delivery"


def parse(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    key = delivery_key(headers, DELIVERY_HEADER)
    ticket = validate(Ticket, body)
    # Ours last: a sender must not be able to point the write-back at another helpdesk.
    extra = {**ticket.extra, "source": "generic", "external_id": ticket.id}
    ticket = ticket.model_copy(update={"channel": ticket.channel or "generic", "extra": extra})
    return Delivery(source="generic", delivery_id=key, topic="ticket", ticket=ticket)

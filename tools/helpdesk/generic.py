"""Generic, one connector: any system that can POST Caseworker's own Ticket JSON, signed with the shared
secret. There is no helpdesk to write back to.

Authenticated with `X-Caseworker-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}." + body)>` and
`X-Caseworker-Timestamp` (unix seconds). The ticket keeps the id it was given (the sender owns its id
space); the delivery id comes from the `X-Caseworker-Delivery` header, which the sender must keep the same
when it retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretStr

from knowledge.schemas import Ticket
from tools.helpdesk.connector import Connector, RouteDoc
from tools.helpdesk.delivery import Delivery, WebhookRejected
from tools.helpdesk.normalise import delivery_key, validate
from tools.helpdesk.signing import check_age, digest, header, same

DELIVERY_HEADER = "X-Caseworker-Delivery"
SIGNATURE = "X-Caseworker-Signature"
TIMESTAMP = "X-Caseworker-Timestamp"


class GenericSettings(BaseModel):
    """Its settings key: CASEWORKER_WEBHOOK_SECRET; unset: no route (404)."""

    webhook_secret: SecretStr | None = None


def _digest(secret: str, body: bytes, timestamp: str) -> str:
    return "sha256=" + digest(secret, f"{timestamp}.".encode() + body, "sha256").hex()


def verify(
    secret: str, body: bytes, headers: Mapping[str, str], *, settings: Any = None, now: float, tolerance_s: float
) -> None:
    signature = header(headers, SIGNATURE)
    timestamp = header(headers, TIMESTAMP).strip()
    if not same(_digest(secret, body, timestamp), signature.lower()):
        raise WebhookRejected(401, f"bad {SIGNATURE} (expected sha256=<hex>)")
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookRejected(401, f"malformed {TIMESTAMP}: expected unix seconds") from None
    check_age(sent, now, tolerance_s, TIMESTAMP)


def sign(secret: str, body: bytes, timestamp: float) -> dict[str, str]:
    stamp = str(int(timestamp))
    return {SIGNATURE: _digest(secret, body, stamp), TIMESTAMP: stamp}


def parse(body: dict[str, Any], headers: Mapping[str, str]) -> Delivery:
    key = delivery_key(headers, DELIVERY_HEADER)
    ticket = validate(Ticket, body)
    # Ours last: a sender must not be able to point the write-back at another helpdesk.
    extra = {**ticket.extra, "source": "generic", "external_id": ticket.id}
    ticket = ticket.model_copy(update={"channel": ticket.channel or "generic", "extra": extra})
    return Delivery(source="generic", delivery_id=key, topic="ticket", ticket=ticket)


CONNECTOR = Connector(
    name="generic",
    settings=GenericSettings,
    verify=verify,
    parse=parse,
    route=RouteDoc(
        summary="Receive a Caseworker Ticket from any system",
        description=(
            "The body is a Caseworker Ticket JSON (`caseworker schema` documents the result; the ticket needs "
            "`id`, `subject`, `body`). Authenticated with `X-Caseworker-Signature: sha256=<hex>` (HMAC-SHA256 of "
            "`{timestamp}.` + body) and `X-Caseworker-Timestamp` (unix seconds); `X-Caseworker-Delivery` is the "
            "delivery id and must stay the same on retries."
        ),
    ),
    secret_field="webhook_secret",
)

"""What every connector's webhook authentication shares. Every check compares in constant time and fails
with 401.

Signatures are computed over the raw body bytes exactly as received: re-serialising parsed JSON
would change whitespace and key order and break every HMAC.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from knowledge import safe_json
from tools.helpdesk.delivery import WebhookRejected

HUB_SIGNATURE = "X-Hub-Signature"


def digest(secret: str, message: bytes, algorithm: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, algorithm).digest()


def same(expected: str, received: str) -> bool:
    # compare_digest rejects non-ASCII str with TypeError; header values are attacker-controlled, so compare bytes.
    return hmac.compare_digest(expected.encode("utf-8"), received.strip().encode("utf-8", "replace"))


def header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name) or headers.get(name.lower())
    if not value:
        raise WebhookRejected(401, f"missing {name} header")
    return value


def check_age(sent_at: float, now: float, tolerance_s: float, what: str) -> None:
    # Both directions: a timestamp far in the future is as suspicious as an old one (and outlives any replay window).
    skew = now - sent_at
    if abs(skew) > tolerance_s:
        raise WebhookRejected(401, f"stale {what}: {abs(skew):.0f}s from now exceeds the {tolerance_s:g}s tolerance")


def payload_number(body: bytes, key: str) -> float | None:
    """A timestamp from the (already authenticated) body; the router reports malformed JSON itself."""
    try:
        payload = safe_json.loads(body)
    except ValueError:
        return None
    value = payload.get(key) if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def verify_hub_signature(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    algorithm: str,
    *,
    sent_at: float | None,
    now: float,
    tolerance_s: float,
    what: str,
) -> None:
    """`X-Hub-Signature: <algorithm>=<hex HMAC(secret, body)>` (Intercom: sha1, Jira: sha256), then the age of
    the signed body's own timestamp when it has one."""
    if not same(hub_signature(secret, body, algorithm), header(headers, HUB_SIGNATURE).lower()):
        raise WebhookRejected(401, f"bad {HUB_SIGNATURE} (expected {algorithm}=<hex>)")
    if sent_at is not None:
        check_age(sent_at, now, tolerance_s, what)


def hub_signature(secret: str, body: bytes, algorithm: str) -> str:
    return f"{algorithm}=" + digest(secret, body, algorithm).hex()

"""Per-source webhook authentication. Every check compares in constant time and fails with 401.

Signatures are computed over the raw body bytes exactly as received: re-serialising parsed JSON
would change whitespace and key order and break every HMAC.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from knowledge import safe_json
from service.webhooks.delivery import WebhookRejected

ZENDESK_SIGNATURE = "X-Zendesk-Webhook-Signature"
ZENDESK_TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
HUB_SIGNATURE = "X-Hub-Signature"
GENERIC_SIGNATURE = "X-Caseworker-Signature"
GENERIC_TIMESTAMP = "X-Caseworker-Timestamp"


def _hmac(secret: str, message: bytes, algorithm: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, algorithm).digest()


def _same(expected: str, received: str) -> bool:
    # compare_digest rejects non-ASCII str with TypeError; header values are attacker-controlled, so compare bytes.
    return hmac.compare_digest(expected.encode("utf-8"), received.strip().encode("utf-8", "replace"))


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name) or headers.get(name.lower())
    if not value:
        raise WebhookRejected(401, f"missing {name} header")
    return value


def _check_age(sent_at: float, now: float, tolerance_s: float, what: str) -> None:
    # Both directions: a timestamp far in the future is as suspicious as an old one (and outlives any replay window).
    skew = now - sent_at
    if abs(skew) > tolerance_s:
        raise WebhookRejected(401, f"stale {what}: {abs(skew):.0f}s from now exceeds the {tolerance_s:g}s tolerance")


def _payload_number(body: bytes, key: str) -> float | None:
    """A timestamp from the (already authenticated) body; the router reports malformed JSON itself."""
    try:
        payload = safe_json.loads(body)
    except ValueError:
        return None
    value = payload.get(key) if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# --- Zendesk: base64(HMAC-SHA256(secret, timestamp + body)), timestamp ISO 8601 in its own header.


def _zendesk_digest(secret: str, body: bytes, timestamp: str) -> str:
    return base64.b64encode(_hmac(secret, timestamp.encode("utf-8") + body, "sha256")).decode("ascii")


def verify_zendesk(secret: str, body: bytes, headers: Mapping[str, str], *, now: float, tolerance_s: float) -> None:
    signature = _header(headers, ZENDESK_SIGNATURE)
    timestamp = _header(headers, ZENDESK_TIMESTAMP)
    if not _same(_zendesk_digest(secret, body, timestamp), signature):
        raise WebhookRejected(401, f"bad {ZENDESK_SIGNATURE}")
    try:
        sent = datetime.fromisoformat(timestamp.strip())
    except ValueError:
        raise WebhookRejected(401, f"malformed {ZENDESK_TIMESTAMP}: expected ISO 8601") from None
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    _check_age(sent.timestamp(), now, tolerance_s, ZENDESK_TIMESTAMP)


def sign_zendesk(secret: str, body: bytes, timestamp: float) -> dict[str, str]:
    stamp = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {ZENDESK_SIGNATURE: _zendesk_digest(secret, body, stamp), ZENDESK_TIMESTAMP: stamp}


# --- Intercom: X-Hub-Signature: sha1=<hex HMAC-SHA1(client secret, body)>; no timestamp header.


def _intercom_digest(secret: str, body: bytes) -> str:
    return "sha1=" + _hmac(secret, body, "sha1").hex()


def verify_intercom(secret: str, body: bytes, headers: Mapping[str, str], *, now: float, tolerance_s: float) -> None:
    if not _same(_intercom_digest(secret, body), _header(headers, HUB_SIGNATURE).lower()):
        raise WebhookRejected(401, f"bad {HUB_SIGNATURE} (expected sha1=<hex>)")
    # Intercom signs no timestamp; the notification's created_at is inside the signed body, so it bounds replays.
    created_at = _payload_number(body, "created_at")
    if created_at is not None:
        _check_age(created_at, now, tolerance_s, "notification created_at")


def sign_intercom(secret: str, body: bytes) -> dict[str, str]:
    return {HUB_SIGNATURE: _intercom_digest(secret, body)}


# --- Jira Cloud (admin webhooks with a secret): X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>.


def _jira_digest(secret: str, body: bytes) -> str:
    return "sha256=" + _hmac(secret, body, "sha256").hex()


def verify_jira(secret: str, body: bytes, headers: Mapping[str, str], *, now: float, tolerance_s: float) -> None:
    if not _same(_jira_digest(secret, body), _header(headers, HUB_SIGNATURE).lower()):
        raise WebhookRejected(401, f"bad {HUB_SIGNATURE} (expected sha256=<hex>)")
    timestamp_ms = _payload_number(body, "timestamp")
    if timestamp_ms is not None:
        _check_age(timestamp_ms / 1000, now, tolerance_s, "event timestamp")


def sign_jira(secret: str, body: bytes) -> dict[str, str]:
    return {HUB_SIGNATURE: _jira_digest(secret, body)}


# --- Freshdesk signs nothing: the automation rule sends a shared secret in a custom header we name.


def verify_freshdesk(secret: str, headers: Mapping[str, str], *, header: str) -> None:
    if not _same(secret, _header(headers, header)):
        raise WebhookRejected(401, f"bad {header}")


# --- Generic: X-Caseworker-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}." + body)>.


def _generic_digest(secret: str, body: bytes, timestamp: str) -> str:
    return "sha256=" + _hmac(secret, f"{timestamp}.".encode() + body, "sha256").hex()


def verify_generic(secret: str, body: bytes, headers: Mapping[str, str], *, now: float, tolerance_s: float) -> None:
    signature = _header(headers, GENERIC_SIGNATURE)
    timestamp = _header(headers, GENERIC_TIMESTAMP).strip()
    if not _same(_generic_digest(secret, body, timestamp), signature.lower()):
        raise WebhookRejected(401, f"bad {GENERIC_SIGNATURE} (expected sha256=<hex>)")
    try:
        sent = int(timestamp)
    except ValueError:
        raise WebhookRejected(401, f"malformed {GENERIC_TIMESTAMP}: expected unix seconds") from None
    _check_age(sent, now, tolerance_s, GENERIC_TIMESTAMP)


def sign_generic(secret: str, body: bytes, timestamp: float) -> dict[str, str]:
    stamp = str(int(timestamp))
    return {GENERIC_SIGNATURE: _generic_digest(secret, body, stamp), GENERIC_TIMESTAMP: stamp}

"""The webhook endpoints: `POST /webhooks/{zendesk,intercom,jira,freshdesk,generic}`.

Each request is checked in a fixed order, cheapest and least revealing first: source configured (404),
size (413), content type (415), authenticity (401), JSON (400), payload (422). Only then is the
delivery handed to `enqueue`, which the app supplies, so this module knows nothing of the queue or graph.

The JSON step (knowledge.safe_json) refuses what no later step could carry (nesting deeper than 100, NaN,
numbers out of range) and makes every string storable (lone surrogates become U+FFFD, control characters
go), so a verified delivery never becomes a 5xx or a job that can only fail.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from config.settings import Settings
from knowledge import safe_json
from service.webhooks import freshdesk, generic, intercom, jira, zendesk
from service.webhooks.delivery import Delivery, Source, WebhookRejected
from service.webhooks.normalise import validation_reason
from service.webhooks.signatures import (
    verify_freshdesk,
    verify_generic,
    verify_intercom,
    verify_jira,
    verify_zendesk,
)

log = logging.getLogger(__name__)


class EnqueueOutcome(BaseModel):
    """What the queue did with a delivery: `created` is False when (source, delivery_id) was already queued."""

    job_id: str
    created: bool


class WebhookAck(BaseModel):
    status: Literal["queued", "duplicate", "ignored", "pong"]
    job_id: str | None = None
    #: Why an `ignored` event needs no triage.
    reason: str | None = None


class WebhookError(BaseModel):
    detail: str


Verifier = Callable[[str, bytes, Mapping[str, str], Settings, float], None]
Parser = Callable[[dict[str, Any], Mapping[str, str]], Delivery]


@dataclass(frozen=True)
class _SourceSpec:
    source: Source
    secret_setting: str
    verify: Verifier
    parse: Parser
    summary: str
    description: str
    example: dict[str, Any] | None = None

    @property
    def env_var(self) -> str:
        return f"CASEWORKER_{self.secret_setting.upper()}"


_COMMON = (
    "\n\nAnswers 202 `{job_id, status: queued}` for a new delivery (or a customer's new message on a known "
    "ticket, which is triaged again with its thread), 200 `{job_id, status: duplicate}` for a redelivery or an "
    "update that changes nothing to triage, and 200 `{status: ignored, reason}` for an event with no customer "
    "message (an agent's comment, a private note). Errors are `{detail}`: 404 source not configured, "
    "413 body too large, 415 not JSON, 401 authentication failed or stale, 400 malformed JSON (also: nested "
    "deeper than 100, NaN or out-of-range numbers) or missing delivery id, 422 payload not understood "
    "(the reason names the field)."
)

_SPECS: tuple[_SourceSpec, ...] = (
    _SourceSpec(
        source="zendesk",
        secret_setting="zendesk_secret",
        verify=lambda secret, body, headers, settings, now: verify_zendesk(
            secret, body, headers, now=now, tolerance_s=settings.webhook_tolerance_s
        ),
        parse=zendesk.parse,
        summary="Receive a Zendesk ticket webhook",
        description=(
            "A Zendesk webhook connected to ticket events (`zen:event-type:ticket.*`) or to a trigger whose JSON "
            "body is the template shown in the example. Authenticated with `X-Zendesk-Webhook-Signature` "
            "(base64 HMAC-SHA256 of timestamp + body, the webhook's signing secret) and "
            "`X-Zendesk-Webhook-Signature-Timestamp`; `X-Zendesk-Webhook-Invocation-Id` is the delivery id."
        )
        + _COMMON,
        example=json.loads(zendesk.TRIGGER_TEMPLATE),
    ),
    _SourceSpec(
        source="intercom",
        secret_setting="intercom_secret",
        verify=lambda secret, body, headers, settings, now: verify_intercom(
            secret, body, headers, now=now, tolerance_s=settings.webhook_tolerance_s
        ),
        parse=intercom.parse,
        summary="Receive an Intercom conversation notification",
        description=(
            "An Intercom `notification_event` for a `conversation.*` topic. Authenticated with `X-Hub-Signature: "
            "sha1=<hex>` (HMAC-SHA1 of the body with the app's client secret); the notification `id` is the "
            "delivery id. The `ping` topic Intercom sends when the webhook is saved answers 200 `pong`."
        )
        + _COMMON,
    ),
    _SourceSpec(
        source="jira",
        secret_setting="jira_secret",
        verify=lambda secret, body, headers, settings, now: verify_jira(
            secret, body, headers, now=now, tolerance_s=settings.webhook_tolerance_s
        ),
        parse=jira.parse,
        summary="Receive a Jira issue webhook",
        description=(
            "A Jira Cloud admin webhook with a secret, for `jira:issue_created` / `jira:issue_updated`. "
            "Authenticated with `X-Hub-Signature: sha256=<hex>` (HMAC-SHA256 of the body); "
            "`X-Atlassian-Webhook-Identifier` is the delivery id."
        )
        + _COMMON,
    ),
    _SourceSpec(
        source="freshdesk",
        secret_setting="freshdesk_secret",
        verify=lambda secret, body, headers, settings, now: verify_freshdesk(
            secret, headers, header=settings.freshdesk_secret_header
        ),
        parse=freshdesk.parse,
        summary="Receive a Freshdesk automation-rule webhook",
        description=(
            "A Freshdesk automation rule's webhook action whose JSON body is the template shown in the example. "
            "Freshdesk signs nothing: the rule sends the shared secret in a custom header (`X-Caseworker-Secret` "
            "unless CASEWORKER_FRESHDESK_SECRET_HEADER names another). The delivery id is a hash of the payload."
        )
        + _COMMON,
        example=json.loads(freshdesk.TRIGGER_TEMPLATE),
    ),
    _SourceSpec(
        source="generic",
        secret_setting="webhook_secret",
        verify=lambda secret, body, headers, settings, now: verify_generic(
            secret, body, headers, now=now, tolerance_s=settings.webhook_tolerance_s
        ),
        parse=generic.parse,
        summary="Receive a Caseworker Ticket from any system",
        description=(
            "The body is a Caseworker Ticket JSON (`caseworker schema` documents the result; the ticket needs "
            "`id`, `subject`, `body`). Authenticated with `X-Caseworker-Signature: sha256=<hex>` (HMAC-SHA256 of "
            "`{timestamp}.` + body) and `X-Caseworker-Timestamp` (unix seconds); `X-Caseworker-Delivery` is the "
            "delivery id and must stay the same on retries."
        )
        + _COMMON,
    ),
)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _read_capped(request: Request, limit: int) -> bytes:
    """The body, refusing to buffer past `limit` whatever Content-Length claims (or when it is absent)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise WebhookRejected(413, f"body exceeds {limit} bytes")
    return bytes(body)


def webhook_router(
    settings: Settings,
    enqueue: Callable[[Delivery], EnqueueOutcome],
    now: Callable[[], float] = time.time,
) -> APIRouter:
    """POST /webhooks/<source> for the five sources; `enqueue` runs in a worker thread and must be thread-safe."""
    router = APIRouter(tags=["webhooks"])

    async def handle(spec: _SourceSpec, request: Request) -> JSONResponse:
        secret_value = getattr(settings, spec.secret_setting)
        secret = secret_value.get_secret_value() if secret_value is not None else ""
        if not secret:
            raise WebhookRejected(404, f"{spec.source} webhooks are not configured: set {spec.env_var}")
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise WebhookRejected(413, f"body of {int(declared)} bytes exceeds {limit} bytes")
        if not _is_json(request.headers.get("content-type")):
            raise WebhookRejected(415, "content type must be application/json")
        body = await _read_capped(request, limit)
        spec.verify(secret, body, request.headers, settings, now())
        try:
            payload = safe_json.loads(body)
        except ValueError as error:
            raise WebhookRejected(400, f"malformed JSON: {error}") from None
        if not isinstance(payload, dict):
            raise WebhookRejected(422, f"body: expected a JSON object, got {type(payload).__name__}")
        try:
            delivery = spec.parse(payload, request.headers)
        except ValidationError as error:
            # Parsers validate with field paths (normalise.validate); this catches any model built past that.
            raise WebhookRejected(422, validation_reason(error)) from None
        if delivery.ping:
            return JSONResponse(WebhookAck(status="pong").model_dump(exclude_none=True), status_code=200)
        if delivery.ignored is not None:
            ack = WebhookAck(status="ignored", reason=delivery.ignored)
            return JSONResponse(ack.model_dump(exclude_none=True), status_code=200)
        if delivery.ticket is not None and spec.source != "generic":
            # Helpdesk payloads carry no Caseworker tenant: this deployment's tenant owns them.
            delivery.ticket = delivery.ticket.model_copy(update={"tenant": settings.tenant})
        outcome = await run_in_threadpool(enqueue, delivery)
        ack = WebhookAck(status="queued" if outcome.created else "duplicate", job_id=outcome.job_id)
        return JSONResponse(ack.model_dump(exclude_none=True), status_code=202 if outcome.created else 200)

    def endpoint(spec: _SourceSpec) -> Callable[[Request], Any]:
        async def receive(request: Request) -> JSONResponse:
            try:
                return await handle(spec, request)
            except WebhookRejected as rejected:
                log.info("webhook %s rejected with %d: %s", spec.source, rejected.status, rejected.reason)
                return JSONResponse(WebhookError(detail=rejected.reason).model_dump(), status_code=rejected.status)

        return receive

    for spec in _SPECS:
        body_doc: dict[str, Any] = {"schema": {"type": "object"}}
        if spec.example is not None:
            body_doc["example"] = spec.example
        router.add_api_route(
            f"/webhooks/{spec.source}",
            endpoint(spec),
            methods=["POST"],
            name=f"webhook_{spec.source}",
            summary=spec.summary,
            description=spec.description,
            status_code=202,
            response_model=WebhookAck,
            responses={
                200: {
                    "model": WebhookAck,
                    "description": "A redelivery or unchanged update (duplicate), an event without a customer "
                    "message (ignored), or Intercom's ping (pong).",
                },
                **{
                    status: {"model": WebhookError, "description": text}
                    for status, text in (
                        (
                            400,
                            "Malformed JSON (or nested deeper than 100, NaN, numbers out of range), or missing "
                            "delivery id.",
                        ),
                        (401, "Missing or bad signature/secret, or a stale timestamp."),
                        (404, "This source has no secret configured."),
                        (413, "Body larger than CASEWORKER_MAX_BODY_BYTES."),
                        (415, "Content type is not JSON."),
                        (422, "The payload is not a ticket this source can send; the reason names the field."),
                    )
                },
            },
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": body_doc}}},
        )
    return router

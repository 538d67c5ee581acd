"""The webhook endpoints: `POST /webhooks/<name>` for every connector in tools.helpdesk.registry
(zendesk, intercom, jira, freshdesk, generic); each connector verifies and parses its own deliveries.

Each request is checked in a fixed order, cheapest and least revealing first: source configured (404),
size (413), content type (415), authenticity (401), JSON (400), payload (422). Only then is the
delivery handed to `enqueue`, which the app supplies, so this module knows nothing of the queue or graph.

The JSON step (knowledge.safe_json) refuses what no later step could carry (nesting deeper than 100, NaN,
numbers out of range) and makes every string storable (lone surrogates become U+FFFD, control characters
go), so a verified delivery never becomes a 5xx or a job that can only fail.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from config.settings import Settings
from knowledge import safe_json
from knowledge.assignments import AssignmentEvent
from tools.helpdesk.connector import Connector
from tools.helpdesk.delivery import Delivery, WebhookRejected
from tools.helpdesk.normalise import validation_reason
from tools.helpdesk.registry import CONNECTORS

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


_COMMON = (
    "\n\nAnswers 202 `{job_id, status: queued}` for a new delivery (or a customer's new message on a known "
    "ticket, which is triaged again with its thread), 200 `{job_id, status: duplicate}` for a redelivery or an "
    "update that changes nothing to triage, and 200 `{status: ignored, reason}` for an event with no customer "
    "message (an agent's comment, a private note). Errors are `{detail}`: 404 source not configured, "
    "413 body too large, 415 not JSON, 401 authentication failed or stale, 400 malformed JSON (also: nested "
    "deeper than 100, NaN or out-of-range numbers) or missing delivery id, 422 payload not understood "
    "(the reason names the field)."
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
    record_assignment: Callable[[AssignmentEvent], bool] | None = None,
) -> APIRouter:
    """POST /webhooks/<source> for every connector; `enqueue` runs in a worker thread and must be thread-safe.

    `record_assignment` keeps each agent's open load from the assignee and status a delivery carries (the
    same thread-safety applies); it is idempotent, so a redelivery changes nothing."""
    router = APIRouter(tags=["webhooks"])

    async def handle(spec: Connector, request: Request) -> JSONResponse:
        secret = spec.secret(settings)
        if not secret:
            raise WebhookRejected(404, f"{spec.name} webhooks are not configured: set {spec.secret_env}")
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise WebhookRejected(413, f"body of {int(declared)} bytes exceeds {limit} bytes")
        if not _is_json(request.headers.get("content-type")):
            raise WebhookRejected(415, "content type must be application/json")
        body = await _read_capped(request, limit)
        spec.verify(
            secret, body, request.headers, settings=settings, now=now(), tolerance_s=settings.webhook_tolerance_s
        )
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
        if delivery.assignment is not None and record_assignment is not None:
            # Helpdesk payloads carry no Caseworker tenant: this deployment's tenant owns them.
            event = delivery.assignment.model_copy(update={"tenant": settings.tenant})
            await run_in_threadpool(record_assignment, event)
        if delivery.ping:
            return JSONResponse(WebhookAck(status="pong").model_dump(exclude_none=True), status_code=200)
        if delivery.ignored is not None:
            ack = WebhookAck(status="ignored", reason=delivery.ignored)
            return JSONResponse(ack.model_dump(exclude_none=True), status_code=200)
        if delivery.ticket is not None and spec.name != "generic":
            # Helpdesk payloads carry no Caseworker tenant: this deployment's tenant owns them.
            delivery.ticket = delivery.ticket.model_copy(update={"tenant": settings.tenant})
        outcome = await run_in_threadpool(enqueue, delivery)
        ack = WebhookAck(status="queued" if outcome.created else "duplicate", job_id=outcome.job_id)
        return JSONResponse(ack.model_dump(exclude_none=True), status_code=202 if outcome.created else 200)

    def endpoint(spec: Connector) -> Callable[[Request], Any]:
        async def receive(request: Request) -> JSONResponse:
            try:
                return await handle(spec, request)
            except WebhookRejected as rejected:
                log.info("webhook %s rejected with %d: %s", spec.name, rejected.status, rejected.reason)
                return JSONResponse(WebhookError(detail=rejected.reason).model_dump(), status_code=rejected.status)

        return receive

    for spec in CONNECTORS:
        body_doc: dict[str, Any] = {"schema": {"type": "object"}}
        if spec.route.example is not None:
            body_doc["example"] = spec.route.example
        router.add_api_route(
            f"/webhooks/{spec.name}",
            endpoint(spec),
            methods=["POST"],
            name=f"webhook_{spec.name}",
            summary=spec.route.summary,
            description=spec.route.description + _COMMON,
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

"""The FastAPI app: webhooks in, review API and page, liveness/readiness and metrics; workers run beside it."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from config.settings import Settings
from service import (
    escalations_api,
    health,
    incident_broadcast_api,
    insights_api,
    metrics,
    pages,
    review_api,
    roster_api,
    stats_api,
)
from service.pages import STATIC_DIR
from service.runtime import ServiceRuntime
from service.same_origin import SameOriginGuard
from service.webhooks.routes import webhook_router
from service.worker import start_workers

log = logging.getLogger(__name__)


def create_app(settings: Settings, workers: int = 1) -> FastAPI:
    """`workers` triage worker threads run inside the app's process (0: intake only, with separate
    `caseworker worker` processes doing the work)."""
    runtime = ServiceRuntime(settings)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if workers:
            runtime.context  # noqa: B018 - load the model now: a bad LLM setting fails the start, not every job
        threads = start_workers(runtime, workers, stop)
        log.info("caseworker service up: %d worker thread(s), data dir %s", workers, settings.data_dir)
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            runtime.close()

    # /docs from packaged Swagger UI files: FastAPI's own page loads them from a CDN, which fails offline.
    app = FastAPIOffline(
        title="Caseworker",
        summary="Helpdesk webhooks in, triaged tickets, drafts for human review, write-back to the helpdesk.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.api_token = settings.api_token.get_secret_value() if settings.api_token else None
    app.state.workers = workers
    app.add_middleware(SameOriginGuard)
    app.include_router(webhook_router(settings, runtime.enqueue_delivery, record_assignment=runtime.record_assignment))
    app.include_router(review_api.router)
    app.include_router(stats_api.router)
    app.include_router(escalations_api.router)
    app.include_router(roster_api.router)
    app.include_router(insights_api.router)
    app.include_router(incident_broadcast_api.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app

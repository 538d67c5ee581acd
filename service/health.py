"""/livez, /readyz and /healthz: is the process up, and can it do its work right now.

Liveness answers from the event loop with no I/O, so an orchestrator restarts the process only when it
is truly wedged. Readiness makes a real read of every dependency and says which one failed; it answers
503 so a load balancer stops sending webhooks here until the reasons clear. Nothing sensitive goes out:
no paths, URLs, tokens or exception messages, only check names, counts and exception class names (the
full error goes to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from service.runtime import ServiceRuntime

log = logging.getLogger(__name__)

router = APIRouter(tags=["operations"])


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check]


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


def _history(runtime: ServiceRuntime, workers: int) -> Check:
    runtime.components.history.query_one("SELECT 1 FROM jobs LIMIT 1", ())
    return Check(ok=True, detail="reachable")


def _vector_store(runtime: ServiceRuntime, workers: int) -> Check:
    counts = runtime.components.store.counts()
    return Check(ok=True, detail=", ".join(f"{n} {name}" for name, n in sorted(counts.items())))


def _model(runtime: ServiceRuntime, workers: int) -> Check:
    registry = runtime.components.registry
    champions = {t: v for t in registry.tenants() if (v := registry.champion_version(t))}
    listed = ", ".join(f"{t}: {v}" for t, v in sorted(champions.items())) or "none"
    if not workers:
        # Intake only verifies, normalises and enqueues; the `caseworker worker` processes load the models.
        return Check(ok=True, detail=f"not needed: intake only (workers load them; champions: {listed})")
    context = runtime.loaded_context
    if context is None:
        return Check(ok=False, detail="the triage model is not loaded yet")
    if not champions and context.mode == "local":
        return Check(ok=False, detail="no trained local model: run `caseworker ingest tickets` and `caseworker train`")
    # Each champion loads now (the first ticket would load it anyway): one that cannot be read fails readiness.
    unreadable = sorted(t for t in champions if context.local_model(t) is None)
    if unreadable:
        return Check(ok=False, detail=f"the champion of {', '.join(unreadable)} cannot be loaded")
    return Check(ok=True, detail=f"loaded (champions: {listed}; mode {context.mode})")


def _queue(runtime: ServiceRuntime, workers: int) -> Check:
    limit = runtime.settings.ready_max_queue_age_s
    waited = runtime.queue.oldest_wait_s()
    if waited is None:
        return Check(ok=True, detail="no job waiting")
    detail = f"oldest runnable job has waited {waited:.0f} s (limit {limit:g} s)"
    return Check(ok=waited <= limit, detail=detail)


def _dead_jobs(runtime: ServiceRuntime, workers: int) -> Check:
    # Reported, never failing: a dead job needs a person (`caseworker jobs retry`), and taking this
    # process out of rotation would stop intake without reviving it; alert on caseworker_jobs{state="dead"}.
    dead = runtime.queue.depth()["dead"]
    return Check(ok=True, detail=f"{dead} dead job(s)" + (": see `caseworker jobs list --state dead`" if dead else ""))


CHECKS: dict[str, Callable[[ServiceRuntime, int], Check]] = {
    "history": _history,
    "vector_store": _vector_store,
    "model": _model,
    "queue": _queue,
    "dead_jobs": _dead_jobs,
}


def readiness(runtime: ServiceRuntime, workers: int) -> Readiness:
    checks = {}
    for name, check in CHECKS.items():
        try:
            checks[name] = check(runtime, workers)
        except Exception as exc:
            log.warning("readiness check %s failed", name, exc_info=True)
            checks[name] = Check(ok=False, detail=f"unreachable ({type(exc).__name__})")
    ready = all(check.ok for check in checks.values())
    return Readiness(status="ready" if ready else "not_ready", checks=checks)


@router.get("/livez", summary="Liveness: the process answers", response_model=Liveness)
async def livez() -> Liveness:
    return Liveness()


@router.get("/healthz", summary="Liveness (kept for older probes; same as /livez)", response_model=Liveness)
async def healthz() -> Liveness:
    return Liveness()


@router.get(
    "/readyz",
    summary="Readiness: history, vector store, model and queue age checked now",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready; each failing check says why."}},
)
def readyz(request: Request) -> JSONResponse:
    result = readiness(request.app.state.runtime, request.app.state.workers)
    return JSONResponse(result.model_dump(), status_code=200 if result.status == "ready" else 503)

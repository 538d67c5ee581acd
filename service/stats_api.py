"""GET /api/stats: how reviewers answer the model, per tenant (the review page's stats panel reads it)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from insights.feedback_stats import all_stats
from service.auth import require_token
from service.runtime import ServiceRuntime

router = APIRouter(prefix="/api/stats", tags=["review"], dependencies=[Depends(require_token)])


@router.get("", summary="Approval and correction rates, draft edits, auto-resolve outcomes, model versions")
def stats(request: Request, tenant: str | None = None) -> dict[str, Any]:
    runtime: ServiceRuntime = request.app.state.runtime
    return {"tenants": all_stats(runtime.components.history, runtime.components.registry, tenant)}

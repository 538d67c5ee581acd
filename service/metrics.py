"""/metrics (Prometheus text format); health checks are in service/health.py.

Figures come from the database, not process memory, so they are right whichever process (serve's
workers or separate `caseworker worker`s) did the work, and survive restarts.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from insights.drift import drift
from knowledge.escalations import ESCALATION_STATES
from knowledge.jobs import JOB_KINDS, JOB_STATES
from knowledge.reviews import REVIEW_STATES
from service.runtime import ServiceRuntime

LATENCY_BUCKETS_MS: tuple[float, ...] = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)

router = APIRouter(tags=["operations"])


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def render_metrics(runtime: ServiceRuntime) -> str:
    history = runtime.components.history
    lines = [
        "# HELP caseworker_jobs Jobs in the queue by state and kind.",
        "# TYPE caseworker_jobs gauge",
    ]
    by_kind = {(r["kind"], r["state"]): int(r["n"]) for r in
               history.query("SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state", ())}  # fmt: skip
    for kind in JOB_KINDS:
        for state in JOB_STATES:
            lines.append(f'caseworker_jobs{{kind="{kind}",state="{state}"}} {by_kind.get((kind, state), 0)}')
    processed = history.query_one("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'triage' AND state = 'done'", ())
    failures = history.query_one("SELECT COUNT(*) AS n FROM audit WHERE event = 'job_failed'", ())
    lines += [
        "# HELP caseworker_tickets_processed_total Tickets triaged by the service.",
        "# TYPE caseworker_tickets_processed_total counter",
        f"caseworker_tickets_processed_total {processed['n'] if processed else 0}",
        "# HELP caseworker_job_failures_total Failed job attempts (each retry counts).",
        "# TYPE caseworker_job_failures_total counter",
        f"caseworker_job_failures_total {failures['n'] if failures else 0}",
    ]
    sums = ", ".join(f"SUM(CASE WHEN latency_ms <= {b} THEN 1 ELSE 0 END)" for b in LATENCY_BUCKETS_MS)
    row = history.query_one(
        f"SELECT {sums}, COUNT(*), COALESCE(SUM(latency_ms), 0), COALESCE(SUM(llm_calls), 0) FROM jobs "
        "WHERE kind = 'triage' AND state = 'done' AND latency_ms IS NOT NULL",
        (),
    )
    values = list(row) if row else [0] * (len(LATENCY_BUCKETS_MS) + 3)
    count, total_ms, llm_calls = values[-3], values[-2], values[-1]
    lines += [
        "# HELP caseworker_triage_latency_seconds Time the graph took per ticket.",
        "# TYPE caseworker_triage_latency_seconds histogram",
    ]
    for bound, n in zip(LATENCY_BUCKETS_MS, values, strict=False):
        lines.append(f'caseworker_triage_latency_seconds_bucket{{le="{bound / 1000:g}"}} {n or 0}')
    lines += [
        f'caseworker_triage_latency_seconds_bucket{{le="+Inf"}} {count or 0}',
        f"caseworker_triage_latency_seconds_sum {(total_ms or 0) / 1000:.6f}",
        f"caseworker_triage_latency_seconds_count {count or 0}",
        "# HELP caseworker_llm_calls_total LLM calls made while triaging.",
        "# TYPE caseworker_llm_calls_total counter",
        f"caseworker_llm_calls_total {llm_calls or 0}",
        "# HELP caseworker_reviews Reviews by state.",
        "# TYPE caseworker_reviews gauge",
    ]
    reviews = runtime.reviews.counts()
    for state in REVIEW_STATES:
        lines.append(f'caseworker_reviews{{state="{state}"}} {reviews.get(state, 0)}')
    lines += ["# HELP caseworker_escalations Escalations by state.", "# TYPE caseworker_escalations gauge"]
    escalations = runtime.escalations.counts()
    for state in ESCALATION_STATES:
        lines.append(f'caseworker_escalations{{state="{state}"}} {escalations.get(state, 0)}')
    return "\n".join(lines + _model_lines(runtime)) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _model_lines(runtime: ServiceRuntime) -> list[str]:
    """Which model serves each tenant, and its drift (population stability index, see insights.drift)."""
    workspace, s = runtime.components, runtime.settings
    lines = [
        "# HELP caseworker_model_champion The model version serving each tenant (value 1).",
        "# TYPE caseworker_model_champion gauge",
    ]
    drift_lines = [
        "# HELP caseworker_model_drift_psi PSI of the champion's recent predictions vs its training data.",
        "# TYPE caseworker_model_drift_psi gauge",
    ]
    for tenant in workspace.registry.tenants():
        version = workspace.registry.champion_version(tenant)
        if version is None:
            continue
        lines.append(f'caseworker_model_champion{{tenant="{_label(tenant)}",version="{_label(version)}"}} 1')
        for row in drift(workspace.history, workspace.registry, tenant, s.drift_window, s.drift_threshold):
            drift_lines.append(
                f'caseworker_model_drift_psi{{tenant="{_label(tenant)}",field="{_label(row.field)}",'
                f'view="{row.view}"}} {row.psi}'
            )
    return lines + drift_lines


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    return PlainTextResponse(render_metrics(_runtime(request)), media_type="text/plain; version=0.0.4")

"""How the team's reviews answer the model, per tenant: what `caseworker stats` and the review page show.

- approval rate: approved or edited decisions over all decisions;
- correction rate per field: fields a reviewer corrected over fields reviewers saw (corrected + confirmed);
- draft edits: normalised edit distance between the draft and the reply sent (0 = sent as drafted, 1 =
  rewritten), over edited approvals, each text cut to 4,000 characters so the comparison stays bounded;
- auto-resolve outcomes: auto-resolved tickets, and how many came back (a later triage of the same ticket);
- the model versions the registry holds.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from difflib import SequenceMatcher
from typing import Any

from knowledge.history import History
from knowledge.model_registry import ModelRegistry

_EDIT_CHARS = 4000
_HUMAN = ("human_confirmed", "human_corrected")


def edit_distance(draft: str, reply: str) -> float:
    """1 - difflib's similarity ratio on the first 4,000 characters of each (0 identical, 1 unrelated)."""
    a, b = draft[:_EDIT_CHARS], reply[:_EDIT_CHARS]
    if not a and not b:
        return 0.0
    return round(1.0 - SequenceMatcher(None, a, b, autojunk=False).ratio(), 4)


def _field_counts(detail: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(confirmed, corrected) field names of one review decision, old decisions (no provenance) included."""
    corrected = {k for k, v in (detail.get("corrected") or {}).items() if v}
    sources = detail.get("label_sources")
    if isinstance(sources, dict):
        confirmed = {k for k, v in sources.items() if v == "human_confirmed"}
    else:
        confirmed = set(detail.get("labels") or {}) - corrected if detail.get("outcome") != "rejected" else set()
    return confirmed - corrected, corrected


def tenant_stats(history: History, registry: ModelRegistry, tenant: str) -> dict[str, Any]:
    decisions = [
        json.loads(row["detail"])
        for row in history.query(
            "SELECT detail FROM audit WHERE event = 'review' AND tenant = ? ORDER BY seq", (tenant,)
        )
    ]
    outcomes = Counter(str(d.get("outcome")) for d in decisions)
    seen: Counter[str] = Counter()
    corrected: Counter[str] = Counter()
    edits = []
    for detail in decisions:
        confirmed, changed = _field_counts(detail)
        seen.update(confirmed | changed)
        corrected.update(changed)
        if detail.get("outcome") == "edited" and detail.get("draft") is not None and detail.get("reply") is not None:
            edits.append(edit_distance(str(detail["draft"]), str(detail["reply"])))
    auto = history.query_one(
        "SELECT COUNT(*) AS n, SUM(CASE WHEN EXISTS (SELECT 1 FROM results later WHERE later.tenant = r.tenant "
        "AND later.ticket_id = r.ticket_id AND later.seq > r.seq) THEN 1 ELSE 0 END) AS back FROM results r "
        "WHERE r.tenant = ? AND r.action = 'auto_resolve'",
        (tenant,),
    )
    decided = sum(outcomes.values())
    return {
        "tenant": tenant,
        "decisions": dict(outcomes),
        "approval_rate": round((outcomes["approved"] + outcomes["edited"]) / decided, 4) if decided else None,
        "fields": {
            name: {
                "seen": seen[name],
                "corrected": corrected[name],
                "correction_rate": round(corrected[name] / seen[name], 4),
            }
            for name in sorted(seen)
        },
        "draft_edits": {
            "edited_replies": len(edits),
            "mean_edit_distance": round(statistics.fmean(edits), 4) if edits else None,
            "median_edit_distance": round(statistics.median(edits), 4) if edits else None,
        },
        "auto_resolve": {
            "count": int(auto["n"] or 0) if auto else 0,
            "came_back": int(auto["back"] or 0) if auto else 0,
        },
        "models": [
            {
                "version": r.version,
                "state": r.state,
                "created_at": r.created_at,
                "promoted_at": r.promoted_at,
                "holdout": {k: v.get("macro_f1") for k, v in r.report.get("holdout", {}).items()},
            }
            for r in registry.list(tenant)
        ],
    }


def all_stats(history: History, registry: ModelRegistry, tenant: str | None = None) -> list[dict[str, Any]]:
    tenants = (
        [tenant] if tenant else sorted(set(history.tenants()) | set(registry.tenants()) | _review_tenants(history))
    )
    return [tenant_stats(history, registry, t) for t in tenants]


def _review_tenants(history: History) -> set[str]:
    return {str(r["tenant"]) for r in history.query("SELECT DISTINCT tenant FROM reviews", ())}

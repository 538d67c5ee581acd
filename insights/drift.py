"""Model drift: is the live stream still the one the champion learned from?

One method, the population stability index (PSI = sum over bins of (a - e) * ln(a / e), both
distributions smoothed by 1e-4 so an empty bin stays finite), on two views per tenant and field:
- `labels`: the champion's predicted label mix over the recent window vs the mix it predicted out of fold
  in training (the model's own bias is no drift; the true label mix when cross-validation did not run);
- `confidence`: its confidence over the recent window in five bins (0-0.2, ..., 0.8-1) vs its confidences
  on its holdout (100+ tickets) or, with a smaller holdout, out of fold in training.
A row alerts when PSI is above `drift_threshold` (default 0.2, the credit-risk rule of thumb: < 0.1
stable, 0.1-0.2 moderate, > 0.2 a shift worth a look) *and* above what sampling alone produces: for two
samples of the same distribution, n·m/(n+m)·PSI is close to chi-square with bins-1 degrees of freedom
(PSI is the symmetrised Kullback-Leibler divergence), so small windows and small references need a
larger PSI (its 99.9th percentile) before anyone is paged. An alert is a `drift_alert` audit event,
once per tenant, field, view and model version per day.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
from scipy.stats import chi2

from knowledge.history import History
from knowledge.model_registry import ModelRegistry

View = Literal["labels", "confidence"]
_EPS = 1e-4
#: Confidences are stored in ten bins and compared in five (0-0.2, ..., 0.8-1): ten bins of a few hundred
#: results are mostly sampling noise.
_COMPARE_BINS = 5
_MIN_HOLDOUT_REFERENCE = 100


@dataclass(frozen=True)
class DriftRow:
    tenant: str
    field: str
    view: View
    psi: float
    n_recent: int
    model: str
    alert: bool


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    e = e / e.sum() if e.sum() else np.full_like(e, 1 / len(e))
    a = a / a.sum() if a.sum() else np.full_like(a, 1 / len(a))
    e, a = (e + _EPS) / (1 + _EPS * len(e)), (a + _EPS) / (1 + _EPS * len(a))
    return float(np.sum((a - e) * np.log(a / e)))


def _recent(history: History, tenant: str, version: str, window: int) -> list[dict[str, Any]]:
    """The classification of the tenant's newest `window` results that this model version made."""
    found: list[dict[str, Any]] = []
    offset = 0
    # Newest first, a page at a time; results of other versions (before a promotion) are skipped.
    while len(found) < window:
        rows = history.query(
            "SELECT data FROM results WHERE tenant = ? ORDER BY seq DESC LIMIT ? OFFSET ?", (tenant, window, offset)
        )
        if not rows:
            break
        for row in rows:
            result = json.loads(row["data"])
            if str((result.get("meta") or {}).get("model", "")).endswith(version):
                found.append(result.get("classification") or {})
        offset += len(rows)
        if offset >= 4 * window:  # the window is about recent traffic: don't read the whole history for it
            break
    return found[:window]


def _prediction(classification: Mapping[str, object], field: str) -> Mapping[str, object] | None:
    value = classification.get(field)
    if value is None:
        value = (classification.get("custom") or {}).get(field)  # type: ignore[union-attr]
    return value if isinstance(value, Mapping) and value.get("source") in ("local", "llm") else None


def _coarse(counts: Sequence[int]) -> list[int]:
    step = max(1, len(counts) // _COMPARE_BINS)
    return [sum(counts[i : i + step]) for i in range(0, len(counts), step)]


def _confidence_reference(report: Mapping[str, Any], field: str) -> list[int] | None:
    """How sure the model is on tickets it never saw: its holdout (the served model itself) when 100 or more
    were held out, else its out-of-fold confidences in training (fold models trained on less data, so a
    little less sure than the model that serves)."""
    holdout = ((report.get("holdout") or {}).get(field) or {}).get("confidence_hist")
    if holdout and sum(holdout) >= _MIN_HOLDOUT_REFERENCE:
        return list(holdout)
    oof = (((report.get("cross_validation") or {}).get(field) or {}).get("confidence_hist")) or holdout
    return list(oof) if oof and sum(oof) else None


def noise_bound(n_reference: int, n_recent: int, bins: int) -> float:
    """The PSI two samples of one distribution stay under 99.9 % of the time (see the module docstring)."""
    if n_reference <= 0 or n_recent <= 0 or bins < 2:
        return float("inf")
    return float(chi2.ppf(0.999, bins - 1) * (1 / n_reference + 1 / n_recent))


def drift(history: History, registry: ModelRegistry, tenant: str, window: int = 500, threshold: float = 0.2,
          min_recent: int = 50) -> list[DriftRow]:  # fmt: skip
    """PSI per field and view for the tenant's champion; empty without a champion or enough recent results."""
    champion = registry.champion(tenant)
    if champion is None:
        return []
    recent = _recent(history, tenant, champion.version, window)
    report = champion.report
    rows: list[DriftRow] = []

    def row(field: str, view: View, reference: Sequence[int], actual: Sequence[int]) -> None:
        value = psi(reference, actual)
        bound = noise_bound(
            sum(reference), sum(actual), sum(1 for a, e in zip(actual, reference, strict=True) if a or e)
        )
        alert = value > max(threshold, bound)
        rows.append(DriftRow(tenant, field, view, round(value, 4), int(sum(actual)), champion.version, alert))

    for field, trained_counts in (report.get("class_counts") or {}).items():
        predictions = [p for c in recent if (p := _prediction(c, field)) is not None]
        if len(predictions) < min_recent:
            continue
        cv = (report.get("cross_validation") or {}).get(field) or {}
        reference_counts: Mapping[str, int] = cv.get("predicted_counts") or trained_counts
        seen = Counter(str(p["value"]) for p in predictions)
        classes = list(reference_counts)
        unknown = sum(n for c, n in seen.items() if c not in reference_counts)
        row(
            field, "labels", [reference_counts[c] for c in classes] + [0], [seen.get(c, 0) for c in classes] + [unknown]
        )
        reference = _confidence_reference(report, field)
        if reference:
            confidences = np.asarray([float(p["confidence"]) for p in predictions])  # type: ignore[arg-type]
            counts, _ = np.histogram(confidences, bins=len(reference), range=(0, 1))
            row(field, "confidence", _coarse(reference), _coarse(counts.tolist()))
    return rows


def raise_alerts(history: History, rows: Sequence[DriftRow], now: datetime | None = None) -> list[DriftRow]:
    """Record a `drift_alert` audit event for each alerting row not already alerted in the last day."""
    now = now or datetime.now(UTC)
    since = (now - timedelta(days=1)).isoformat()
    raised = []
    for row in rows:
        if not row.alert:
            continue
        recent = [
            json.loads(r["detail"])
            for r in history.query(
                "SELECT detail FROM audit WHERE event = 'drift_alert' AND tenant = ? AND at > ?", (row.tenant, since)
            )
        ]
        recent = [
            d for d in recent if (d.get("field"), d.get("view"), d.get("model")) == (row.field, row.view, row.model)
        ]
        if not recent:
            history.audit("drift_alert", {"field": row.field, "view": row.view, "psi": row.psi, "model": row.model,
                                          "n_recent": row.n_recent}, tenant=row.tenant)  # fmt: skip
            raised.append(row)
    return raised

"""Classification scores every part of the house shares: per-class and macro scores, and a paired
bootstrap of the difference between two models on the same rows (the promotion gate compares a candidate
with the champion this way; evals compare the local model with the TF-IDF baseline)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

#: A prediction that is missing or names no known label.
INVALID = "invalid"


class ClassScores(BaseModel):
    label: str
    support: int
    predicted: int
    precision: float
    recall: float
    f1: float


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    if not truth:
        return 0.0
    return float(np.mean([t == p for t, p in zip(truth, predicted, strict=True)]))


class DeltaInterval(BaseModel):
    """Ours minus a baseline on the same rows, with a paired percentile-bootstrap 95 % interval."""

    delta: float
    low: float
    high: float
    #: shares of resamples in which ours scored higher / lower (the rest are ties)
    p_better: float
    p_worse: float


def _resampled_macro_f1(codes: np.ndarray, truth: np.ndarray, picks: np.ndarray, n_labels: int) -> np.ndarray:
    """Macro-F1 of each resample (one row of `picks` = one resample of row indices), vectorised.

    `codes` are predictions as label codes with `n_labels` meaning invalid; a label counts towards the
    average of a resample when it is a true or a valid predicted label *in that resample*, exactly as
    `macro_f1` on the resampled rows would count it."""
    r = picks.shape[0]
    offsets = (np.arange(r) * (n_labels + 1))[:, None]
    size = r * (n_labels + 1)
    t, p = truth[picks], codes[picks]
    support = np.bincount((t + offsets).ravel(), minlength=size).reshape(r, -1)[:, :n_labels]
    predicted = np.bincount((p + offsets).ravel(), minlength=size).reshape(r, -1)[:, :n_labels]
    hit = np.where(t == p, t, n_labels)
    hits = np.bincount((hit + offsets).ravel(), minlength=size).reshape(r, -1)[:, :n_labels]
    # F1 = 2 * hits / (support + predicted): the same as 2PR/(P+R), and 0 where both counts are 0.
    denom = support + predicted
    f1 = np.divide(2.0 * hits, denom, out=np.zeros(denom.shape), where=denom > 0)
    present = denom > 0
    return f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def paired_bootstrap_delta(
    truth: Sequence[str],
    ours: Sequence[str],
    theirs: Sequence[str],
    *,
    metric: str = "macro_f1",
    resamples: int = 1000,
    seed: int = 0,
) -> DeltaInterval:
    """Ours minus theirs on `metric` ("macro_f1" or "accuracy"), resampling the *same* rows for both.

    Pairing is what makes the interval narrow enough to mean something: both models face the same
    hard and easy tickets in every resample, so only their disagreement moves the delta. Predictions
    are expected already normalised (`normalise_predictions`: INVALID for missing or unknown labels).
    """
    n = len(truth)
    if not (n == len(ours) == len(theirs)):
        raise ValueError("truth, ours and theirs must have the same length")
    if metric not in ("macro_f1", "accuracy"):
        raise ValueError(f"unknown metric {metric!r} (macro_f1 or accuracy)")
    score = macro_f1 if metric == "macro_f1" else accuracy
    delta = score(truth, ours) - score(truth, theirs) if n else 0.0
    if n == 0 or resamples == 0:
        return DeltaInterval(delta=delta, low=delta, high=delta, p_better=float(delta > 0), p_worse=float(delta < 0))
    labels = sorted({*truth, *ours, *theirs} - {INVALID})
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    t = np.array([index[x] for x in truth])
    a = np.array([index.get(x, k) for x in ours])
    b = np.array([index.get(x, k) for x in theirs])
    rng = np.random.default_rng(seed)
    deltas = np.empty(resamples)
    # In blocks so resamples x n indices (and x labels counts) never get large at once.
    block = max(1, 2_000_000 // max(n, k + 1))
    for start in range(0, resamples, block):
        picks = rng.integers(0, n, (min(resamples, start + block) - start, n))
        if metric == "accuracy":
            deltas[start : start + len(picks)] = (a[picks] == t[picks]).mean(1) - (b[picks] == t[picks]).mean(1)
        else:
            deltas[start : start + len(picks)] = _resampled_macro_f1(a, t, picks, k) - _resampled_macro_f1(
                b, t, picks, k
            )
    low, high = np.percentile(deltas, [2.5, 97.5])
    return DeltaInterval(
        delta=float(delta),
        low=round(float(low), 6),
        high=round(float(high), 6),
        p_better=float((deltas > 0).mean()),
        p_worse=float((deltas < 0).mean()),
    )


def per_class_scores(truth: Sequence[str], predicted: Sequence[str]) -> list[ClassScores]:
    """Precision/recall/F1 per label over true labels and valid predicted labels, sorted by label."""
    labels = sorted({*truth, *(p for p in predicted if p != INVALID)})
    support = Counter(truth)
    predicted_count = Counter(p for p in predicted if p != INVALID)
    hits = Counter(t for t, p in zip(truth, predicted, strict=True) if t == p)
    rows = []
    for label in labels:
        precision = _ratio(hits[label], predicted_count[label])
        recall = _ratio(hits[label], support[label])
        rows.append(
            ClassScores(
                label=label,
                support=support[label],
                predicted=predicted_count[label],
                precision=precision,
                recall=recall,
                f1=_ratio(2 * precision * recall, precision + recall),
            )
        )
    return rows


def averages(rows: Sequence[ClassScores]) -> dict[str, float]:
    """Macro (unweighted mean over labels) and weighted (by support) precision, recall and F1."""
    if not rows:
        return {f"{kind}_{m}": 0.0 for kind in ("macro", "weighted") for m in ("precision", "recall", "f1")}
    support = np.array([r.support for r in rows], dtype=np.float64)
    out: dict[str, float] = {}
    for metric in ("precision", "recall", "f1"):
        values = np.array([getattr(r, metric) for r in rows])
        out[f"macro_{metric}"] = float(values.mean())
        out[f"weighted_{metric}"] = _ratio(float((values * support).sum()), float(support.sum()))
    return out


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    return averages(per_class_scores(truth, predicted))["macro_f1"]

"""Scoring one labelled field: pure functions over (truth, prediction, confidence) lists.

Everything here is plain numpy so the hand-computed fixture in tests/test_eval_metrics.py can pin it.
Conventions (the same as scikit-learn's where one exists):

* a prediction that is missing (the graph produced no value) or outside the field's known labels (the
  labels seen in training or in the test truth) is **invalid**: it is wrong for its row, counts towards
  no class's precision, and gets its own column in the confusion matrix;
* macro/weighted averages run over the union of true labels and valid predicted labels, with 0 for a
  ratio whose denominator is 0 (scikit-learn's ``zero_division=0``);
* ECE uses 10 equal-width confidence bins: ``sum_b n_b/N * |accuracy_b - mean confidence_b|``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

# Re-exported: reports, benchmarks and tests read every score from here.
from agent.stats import INVALID as INVALID
from agent.stats import ClassScores as ClassScores
from agent.stats import DeltaInterval as DeltaInterval
from agent.stats import _ratio
from agent.stats import accuracy as accuracy
from agent.stats import averages as averages
from agent.stats import macro_f1 as macro_f1
from agent.stats import paired_bootstrap_delta as paired_bootstrap_delta
from agent.stats import per_class_scores as per_class_scores

ECE_BINS = 10
#: Confidence thresholds at which the coverage curve is tabulated (the target threshold is exact).
COVERAGE_GRID = tuple(round(0.05 * i, 2) for i in range(20))


class Confusion(BaseModel):
    labels: list[str]  # rows: true labels
    columns: list[str]  # predicted labels, then "invalid"
    matrix: list[list[int]]


class ReliabilityBin(BaseModel):
    lower: float
    upper: float
    n: int
    confidence: float | None
    accuracy: float | None


class CoveragePoint(BaseModel):
    threshold: float
    coverage: float
    accuracy: float | None


class TargetThreshold(BaseModel):
    target_accuracy: float
    threshold: float | None  # None: no confidence threshold reaches the target
    coverage: float
    accuracy: float | None


class FieldScores(BaseModel):
    n: int
    accuracy: float
    accuracy_ci95: tuple[float, float]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float
    invalid: int
    ece: float
    per_class: list[ClassScores]
    confusion: Confusion
    reliability: list[ReliabilityBin]
    coverage: list[CoveragePoint]
    target: TargetThreshold


def normalise_predictions(predicted: Sequence[str | None], known: set[str]) -> list[str]:
    """Missing predictions and labels outside `known` become INVALID."""
    return [p if p is not None and p in known else INVALID for p in predicted]


def bootstrap_ci(correct: Sequence[bool], *, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95 % interval of the mean of `correct` (rows resampled with replacement)."""
    values = np.asarray(correct, dtype=np.float64)
    if values.size == 0:
        return (0.0, 0.0)
    if resamples == 0:  # no interval asked for (baselines): a point "interval" at the observed mean
        return (float(values.mean()), float(values.mean()))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    # In blocks so a 10k-row test set never materialises resamples x n indices at once.
    block = max(1, 2_000_000 // values.size)
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        means[start:stop] = values[rng.integers(0, values.size, (stop - start, values.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return (round(float(low), 6), round(float(high), 6))


def confusion(truth: Sequence[str], predicted: Sequence[str]) -> Confusion:
    labels = sorted({*truth, *(p for p in predicted if p != INVALID)})
    rows = sorted(set(truth))
    columns = [*labels, INVALID]
    row_index = {label: i for i, label in enumerate(rows)}
    col_index = {label: i for i, label in enumerate(columns)}
    matrix = np.zeros((len(rows), len(columns)), dtype=np.int64)
    for t, p in zip(truth, predicted, strict=True):
        matrix[row_index[t], col_index[p]] += 1
    return Confusion(labels=rows, columns=columns, matrix=matrix.tolist())


def reliability(confidence: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS) -> list[ReliabilityBin]:
    conf = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    hit = np.asarray(correct, dtype=np.float64)
    which = np.minimum((conf * bins).astype(np.int64), bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        out.append(
            ReliabilityBin(
                lower=b / bins,
                upper=(b + 1) / bins,
                n=n,
                confidence=float(conf[mask].mean()) if n else None,
                accuracy=float(hit[mask].mean()) if n else None,
            )
        )
    return out


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    total = sum(b.n for b in bins)
    if not total:
        return 0.0
    return float(
        sum(b.n / total * abs((b.accuracy or 0.0) - (b.confidence or 0.0)) for b in bins if b.n)  # type: ignore[operator]
    )


def coverage_curve(
    confidence: Sequence[float], correct: Sequence[bool], grid: Sequence[float] = COVERAGE_GRID
) -> list[CoveragePoint]:
    """Share of rows at or above each confidence threshold, and the accuracy on that share."""
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    points = []
    for threshold in grid:
        mask = conf >= threshold
        n = int(mask.sum())
        points.append(
            CoveragePoint(
                threshold=float(threshold),
                coverage=_ratio(n, conf.size),
                accuracy=float(hit[mask].mean()) if n else None,
            )
        )
    return points


def threshold_for_accuracy(confidence: Sequence[float], correct: Sequence[bool], target: float) -> TargetThreshold:
    """The lowest confidence threshold whose accepted rows (confidence >= threshold) reach `target`.

    Lowest threshold = largest coverage. Rows with equal confidence are accepted or refused together,
    so only the end of each run of ties is a candidate cut.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return TargetThreshold(target_accuracy=target, threshold=None, coverage=0.0, accuracy=None)
    order = np.argsort(-conf, kind="stable")
    sorted_conf = conf[order]
    running = np.cumsum(hit[order]) / np.arange(1, conf.size + 1)
    # Position k (0-based) is a valid cut when the next row has a strictly lower confidence.
    cut = np.append(sorted_conf[1:] < sorted_conf[:-1], True)
    good = np.flatnonzero(cut & (running >= target - 1e-12))
    if good.size == 0:
        return TargetThreshold(target_accuracy=target, threshold=None, coverage=0.0, accuracy=None)
    k = int(good.max())
    return TargetThreshold(
        target_accuracy=target,
        threshold=float(sorted_conf[k]),
        coverage=_ratio(k + 1, conf.size),
        accuracy=float(running[k]),
    )


def score_field(
    truth: Sequence[str],
    predicted: Sequence[str | None],
    confidence: Sequence[float],
    *,
    known: set[str],
    target_accuracy: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> FieldScores:
    """All metrics of one field. `known` is the field's label set (training labels plus test truth)."""
    predictions = normalise_predictions(predicted, known | set(truth))
    correct = [t == p for t, p in zip(truth, predictions, strict=True)]
    # An invalid prediction's confidence still counts: the model was that sure of a wrong answer.
    conf = [float(c) if p is not None else 0.0 for c, p in zip(confidence, predicted, strict=True)]
    rows = per_class_scores(truth, predictions)
    bins = reliability(conf, correct)
    return FieldScores(
        n=len(truth),
        accuracy=accuracy(truth, predictions),
        accuracy_ci95=bootstrap_ci(correct, resamples=resamples, seed=seed),
        invalid=sum(p == INVALID for p in predictions),
        ece=expected_calibration_error(bins),
        per_class=rows,
        confusion=confusion(truth, predictions),
        reliability=bins,
        coverage=coverage_curve(conf, correct),
        target=threshold_for_accuracy(conf, correct, target_accuracy),
        **averages(rows),
    )


class DetectionScores(BaseModel):
    """A binary flag against binary truth (out-of-scope detection, escalation)."""

    n_positive: int
    n_flagged: int
    true_positive: int
    recall: float
    precision: float
    f1: float
    false_positive_rate: float


def detection(truth: Sequence[bool], flagged: Sequence[bool]) -> DetectionScores:
    t = np.asarray(truth, dtype=bool)
    f = np.asarray(flagged, dtype=bool)
    tp = int((t & f).sum())
    recall = _ratio(tp, int(t.sum()))
    precision = _ratio(tp, int(f.sum()))
    return DetectionScores(
        n_positive=int(t.sum()),
        n_flagged=int(f.sum()),
        true_positive=tp,
        recall=recall,
        precision=precision,
        f1=_ratio(2 * precision * recall, precision + recall),
        false_positive_rate=_ratio(int((~t & f).sum()), int((~t).sum())),
    )


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "mean": 0.0, "max": 0.0}
    arr = np.asarray(values, dtype=np.float64)
    p50, p95 = np.percentile(arr, [50, 95])
    return {"p50": float(p50), "p95": float(p95), "mean": float(arr.mean()), "max": float(arr.max())}

"""Eval metrics against values computed by hand on a six-row fixture (see the comments for the arithmetic)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from evals import metrics
from evals.metrics import INVALID
from evals.report import check_bars, compare, lookup, parse_bars

# truth  a    a    a    b    b      c
# pred   a    a    b    b    zzz    a      ("zzz" was never a label: invalid)
# conf   .9   .8   .6   .7   .95    .55
# right  T    T    F    T    F      F      -> accuracy 3/6
TRUTH = ["a", "a", "a", "b", "b", "c"]
PRED = ["a", "a", "b", "b", "zzz", "a"]
CONF = [0.9, 0.8, 0.6, 0.7, 0.95, 0.55]
KNOWN = {"a", "b", "c"}


@pytest.fixture(scope="module")
def scores() -> metrics.FieldScores:
    return metrics.score_field(TRUTH, PRED, CONF, known=KNOWN, target_accuracy=0.75, resamples=2000)


def test_accuracy_and_invalid(scores: metrics.FieldScores) -> None:
    assert scores.n == 6
    assert scores.accuracy == pytest.approx(0.5)
    assert scores.invalid == 1


def test_per_class_precision_recall_f1(scores: metrics.FieldScores) -> None:
    rows = {r.label: r for r in scores.per_class}
    assert list(rows) == ["a", "b", "c"]  # the invalid label is no class
    # a: predicted on rows 0, 1, 5; right on 0, 1 -> P 2/3; 3 true a, 2 found -> R 2/3
    assert (rows["a"].support, rows["a"].predicted) == (3, 3)
    assert rows["a"].precision == pytest.approx(2 / 3)
    assert rows["a"].recall == pytest.approx(2 / 3)
    assert rows["a"].f1 == pytest.approx(2 / 3)
    # b: predicted on rows 2, 3; right on 3 -> P 1/2; 2 true b, 1 found -> R 1/2
    assert rows["b"].precision == pytest.approx(0.5)
    assert rows["b"].recall == pytest.approx(0.5)
    # c: never predicted, never found -> 0 (zero_division=0)
    assert (rows["c"].precision, rows["c"].recall, rows["c"].f1) == (0.0, 0.0, 0.0)


def test_macro_and_weighted_averages(scores: metrics.FieldScores) -> None:
    # macro = (2/3 + 1/2 + 0) / 3 = 7/18 for P, R and F1 alike
    assert scores.macro_precision == pytest.approx(7 / 18)
    assert scores.macro_recall == pytest.approx(7 / 18)
    assert scores.macro_f1 == pytest.approx(7 / 18)
    # weighted F1 = (3 * 2/3 + 2 * 1/2 + 1 * 0) / 6 = 1/2
    assert scores.weighted_f1 == pytest.approx(0.5)
    assert scores.weighted_recall == pytest.approx(scores.accuracy)  # always true of weighted recall


def test_averages_agree_with_scikit_learn() -> None:
    pred = metrics.normalise_predictions(PRED, KNOWN)
    labels = sorted(KNOWN)
    for average in ("macro", "weighted"):
        ours = metrics.averages(metrics.per_class_scores(TRUTH, pred))
        assert ours[f"{average}_f1"] == pytest.approx(
            f1_score(TRUTH, pred, labels=labels, average=average, zero_division=0)
        )
        assert ours[f"{average}_precision"] == pytest.approx(
            precision_score(TRUTH, pred, labels=labels, average=average, zero_division=0)
        )
        assert ours[f"{average}_recall"] == pytest.approx(
            recall_score(TRUTH, pred, labels=labels, average=average, zero_division=0)
        )


def test_confusion_matrix_has_an_invalid_column(scores: metrics.FieldScores) -> None:
    c = scores.confusion
    assert c.labels == ["a", "b", "c"]
    assert c.columns == ["a", "b", "c", INVALID]
    assert c.matrix == [
        [2, 1, 0, 0],  # a: two right, one called b
        [0, 1, 0, 1],  # b: one right, one invalid ("zzz")
        [1, 0, 0, 0],  # c: called a
    ]


def test_missing_prediction_is_invalid_with_zero_confidence() -> None:
    s = metrics.score_field(["a", "b"], ["a", None], [0.9, 0.8], known={"a", "b"}, resamples=0)
    assert s.invalid == 1
    assert s.confusion.matrix == [[1, 0, 0], [0, 0, 1]]
    assert [b.n for b in s.reliability if b.n] == [1, 1]  # the missing one sits in bin 0 (confidence 0)
    assert s.reliability[0].confidence == 0.0


def test_ece_and_reliability_bins(scores: metrics.FieldScores) -> None:
    bins = {round(b.lower, 1): b for b in scores.reliability}
    assert len(scores.reliability) == 10
    # bin 0.9: rows 0 (.9, right) and 4 (.95, wrong) -> accuracy .5, confidence .925
    assert bins[0.9].n == 2
    assert bins[0.9].accuracy == pytest.approx(0.5)
    assert bins[0.9].confidence == pytest.approx(0.925)
    assert bins[0.5].n == bins[0.6].n == bins[0.7].n == bins[0.8].n == 1
    assert bins[0.0].n == 0 and bins[0.0].accuracy is None
    # ECE = (2 * |.5 - .925| + |1 - .8| + |1 - .7| + |0 - .6| + |0 - .55|) / 6 = 2.5 / 6
    assert scores.ece == pytest.approx(2.5 / 6)


def test_coverage_curve_and_target_threshold(scores: metrics.FieldScores) -> None:
    points = {p.threshold: p for p in scores.coverage}
    # confidence >= .75: rows .9, .8, .95 -> half the rows, two of three right
    assert points[0.75].coverage == pytest.approx(0.5)
    assert points[0.75].accuracy == pytest.approx(2 / 3)
    assert points[0.0].coverage == 1.0 and points[0.0].accuracy == pytest.approx(0.5)
    # sorted by confidence: .95 F, .9 T, .8 T, .7 T, .6 F, .55 F -> running accuracy 0, .5, .67, .75, .6, .5
    t = scores.target
    assert t.threshold == pytest.approx(0.7)
    assert t.coverage == pytest.approx(4 / 6)
    assert t.accuracy == pytest.approx(0.75)
    assert (
        metrics.threshold_for_accuracy(CONF, [p == t for p, t in zip(PRED, TRUTH, strict=True)], 0.95).threshold is None
    )


def test_target_threshold_never_splits_ties() -> None:
    # Two rows at .9 (one wrong): cutting between them is impossible, so 100 % is out of reach.
    assert metrics.threshold_for_accuracy([0.9, 0.9, 0.5], [True, False, True], 1.0).threshold is None
    assert metrics.threshold_for_accuracy([0.9, 0.9, 0.5], [True, True, False], 1.0).coverage == pytest.approx(2 / 3)


def test_bootstrap_interval() -> None:
    assert metrics.bootstrap_ci([True] * 50) == (1.0, 1.0)
    correct = [True] * 80 + [False] * 20
    low, high = metrics.bootstrap_ci(correct, seed=1)
    assert low < 0.8 < high
    assert (low, high) == metrics.bootstrap_ci(correct, seed=1)  # seeded: reproducible
    # binomial standard error sqrt(.8 * .2 / 100) = .04 -> an interval about 2 * 1.96 * .04 wide
    assert 0.12 < high - low < 0.20
    wide = metrics.bootstrap_ci(correct[::4], seed=1)
    assert wide[1] - wide[0] > high - low  # fewer rows, wider interval


def test_detection_scores() -> None:
    d = metrics.detection([True, True, False, False, False], [True, False, True, False, False])
    assert (d.n_positive, d.n_flagged, d.true_positive) == (2, 2, 1)
    assert d.recall == pytest.approx(0.5)
    assert d.precision == pytest.approx(0.5)
    assert d.false_positive_rate == pytest.approx(1 / 3)


def test_percentiles() -> None:
    p = metrics.percentiles([float(v) for v in range(1, 101)])
    assert p["p50"] == pytest.approx(50.5)
    assert p["p95"] == pytest.approx(95.05)
    assert p["max"] == 100.0


REPORT = {
    "n": 10,
    "fields": {"queue": {"accuracy": 0.9, "macro_f1": 0.8, "ece": 0.05, "slices": {}}},
    "latency_ms": {"p50": 20.0, "p95": 40.0},
}


def test_bars_lookup_shorthand_and_missing_keys_fail() -> None:
    assert lookup(REPORT, "queue.accuracy") == 0.9
    assert lookup(REPORT, "latency_ms.p95") == 40.0
    assert lookup(REPORT, "queue.nope") is None
    results = check_bars(
        REPORT, {"queue.accuracy": 0.85, "queue.macro_f1": 0.81, "queu.accuracy": 0.1}, {"queue.ece": 0.1}
    )
    assert [(r.key, r.passed) for r in results] == [
        ("queue.accuracy", True),
        ("queue.macro_f1", False),
        ("queu.accuracy", False),  # a typo must not pass a gate
        ("queue.ece", True),
    ]
    assert parse_bars(["queue.accuracy=0.9"]) == {"queue.accuracy": 0.9}
    with pytest.raises(ValueError, match=r"LABEL\.metric=NUMBER"):
        parse_bars(["queue.accuracy"])


def test_compare_knows_which_direction_is_better() -> None:
    new = {
        "fields": {"queue": {"accuracy": 0.92, "macro_f1": 0.8, "ece": 0.07, "slices": {}}},
        "latency_ms": {"p50": 15.0, "p95": 40.0},
    }
    changes = {c.key: c for c in compare(REPORT, new)}
    assert changes["queue.accuracy"].better is True
    assert changes["queue.accuracy"].delta == pytest.approx(0.02)
    assert changes["queue.ece"].better is False  # calibration error went up
    assert changes["latency_ms.p50"].better is True  # faster
    assert changes["queue.macro_f1"].better is None  # unchanged


def test_paired_bootstrap_delta_matches_resampling_by_hand() -> None:
    rng = random.Random(0)
    labels = list("abcdefg")
    truth = [rng.choice(labels) for _ in range(300)]
    ours = [t if rng.random() < 0.75 else rng.choice([*labels, INVALID]) for t in truth]
    theirs = [t if rng.random() < 0.6 else rng.choice(labels) for t in truth]
    d = metrics.paired_bootstrap_delta(truth, ours, theirs, resamples=200, seed=3)
    assert d.delta == pytest.approx(metrics.macro_f1(truth, ours) - metrics.macro_f1(truth, theirs))
    # The vectorised macro-F1 per resample equals macro_f1 on the resampled rows (same draws, same seed),
    # including labels that drop out of a resample and the invalid column.
    picks = np.random.default_rng(3).integers(0, 300, (200, 300))
    by_hand = [
        metrics.macro_f1([truth[i] for i in p], [ours[i] for i in p])
        - metrics.macro_f1([truth[i] for i in p], [theirs[i] for i in p])
        for p in picks
    ]
    low, high = np.percentile(by_hand, [2.5, 97.5])
    assert (d.low, d.high) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))
    assert d.p_better == pytest.approx(np.mean([x > 0 for x in by_hand]))
    assert d.low < d.delta < d.high


def test_paired_bootstrap_is_narrower_than_unpaired_and_handles_accuracy() -> None:
    # Both models share most mistakes: pairing cancels them, so the delta's interval is narrower than even
    # one model's own accuracy interval (two independent intervals would give a delta ~1.4x wider still).
    truth = ["a"] * 60 + ["b"] * 40
    theirs = ["a"] * 45 + ["b"] * 15 + ["b"] * 25 + ["a"] * 15
    ours = theirs[:]
    ours[45:50] = ["a"] * 5  # five more right
    d = metrics.paired_bootstrap_delta(truth, ours, theirs, metric="accuracy", resamples=2000, seed=1)
    assert d.delta == pytest.approx(0.05)
    assert d.low > 0  # every resample that holds any of the five rows favours ours; none favours theirs
    assert d.p_worse == 0.0
    lo_ours, hi_ours = metrics.bootstrap_ci([t == p for t, p in zip(truth, ours, strict=True)], seed=1)
    assert d.high - d.low < 0.6 * (hi_ours - lo_ours)
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.paired_bootstrap_delta(truth, ours, theirs, metric="ece")
    assert metrics.paired_bootstrap_delta([], [], [], resamples=10).delta == 0.0

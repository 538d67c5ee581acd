"""Fitting one field of the local model: the three views, their class weighting, and the blend.

`agent.local_model` says what the model is and how it serves; this module says how one field is
learned from its labelled rows. Every choice made here (class weighting, blend weights, the prior
adjustment) is made on out-of-fold scores of the training rows, never on anything held out later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from scipy.optimize import minimize
from scipy.special import log_softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from agent.features import knn_log_votes, top_k

VIEWS = ("sparse", "dense", "knn")

_SPARSE_C = 0.3
_DENSE_C = 10.0
K = 10
KNN_TEMPERATURE = 20.0
KNN_EPS = 1e-3
_FOLDS = 5
#: Below this many labelled rows the weights are not fitted: five folds of a handful of rows say nothing.
_MIN_ROWS_FOR_CV = 20
#: Typical fitted weights (BANKING77, NLBSE'24 issues) used when there is too little data to fit them.
_DEFAULT_WEIGHTS = (2.0, 0.7, 0.3)
#: Class weightings tried for every view of a skewed field, chosen by out-of-fold macro-F1: "balanced"
#: weighs each class by 1/frequency, so the small queues are not left to the big ones (macro-F1 counts
#: every class alike); on support tickets' 10 queues it raised out-of-fold macro-F1 from 0.242 to 0.271.
_WEIGHTINGS: tuple[str | None, ...] = (None, "balanced")
#: Prior adjustments tried: the blend's scores get -alpha * log(class prior) added (alpha 1 undoes the
#: training prior entirely, 0 leaves it), chosen with the weighting by out-of-fold macro-F1.
_ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: A field is skewed when its biggest class has this many times the rows of its smallest; below it,
#: weighting and prior adjustment change little and are not tried (BANKING77's few-shot sets).
_SKEW = 1.5

Progress = Callable[[str], None]


@dataclass
class FieldModel:
    classes: list[str]
    rows: np.ndarray | None  # training rows labelled for this field (the kNN base); None = all rows
    targets: np.ndarray  # class index of each of those rows
    sparse: LinearSVC | None
    dense: LogisticRegression | None
    weights: np.ndarray  # blend weights, in VIEWS order
    cv: dict[str, Any]
    #: Added to the blended scores before the softmax (the prior adjustment); None = zeros (models
    #: pickled before it existed load with the class default).
    bias: np.ndarray | None = None
    #: Per-class weight of a neighbour's vote in the kNN view; None = every vote counts alike.
    knn_class_weights: np.ndarray | None = None
    choice: dict[str, Any] | None = None

    def logits(self, views: Sequence[np.ndarray]) -> np.ndarray:
        scores = blend(self.weights, views)
        return scores if self.bias is None else scores + self.bias


def scores(model: LinearSVC | LogisticRegression | None, X: Any, n_classes: int, only: int | None = None) -> np.ndarray:
    """Decision scores over all `n_classes`, whatever subset of classes the model was fitted on.

    A cross-validation fold may lack a rare class, or hold a single class (`only`: no model was
    fitted, the fold can only say that class). No model and no `only` (no usable text features)
    scores every class alike, so the view drops out of the blend.
    """
    n = X.shape[0]
    if model is None:
        out = np.zeros((n, n_classes))
        if only is not None:
            out[:, only] = 1.0
        return out
    raw = np.asarray(model.decision_function(X), dtype=np.float64)
    if raw.ndim == 1:
        # Binary models return one margin; split it symmetrically so softmax gives sigmoid(margin).
        raw = np.stack([-raw / 2, raw / 2], axis=1)
    if len(model.classes_) == n_classes:
        return raw
    out = np.repeat(raw.min(axis=1, keepdims=True) - 1.0, n_classes, axis=1)
    out[:, model.classes_] = raw
    return out


def _fit_sparse(X: sp.csr_matrix, y: np.ndarray, seed: int, weighting: str | None) -> LinearSVC | None:
    if X.shape[1] == 0 or np.unique(y).size < 2:
        return None
    model = LinearSVC(C=_SPARSE_C, class_weight=weighting, random_state=seed, max_iter=2000).fit(X, y)
    model.coef_ = model.coef_.astype(np.float32)  # halves the saved model; scores change < 1e-6
    return model


def _fit_dense(E: np.ndarray, y: np.ndarray, weighting: str | None) -> LogisticRegression | None:
    if np.unique(y).size < 2:
        return None
    model = LogisticRegression(C=_DENSE_C, class_weight=weighting, max_iter=500).fit(E, y)
    model.coef_ = model.coef_.astype(np.float32)
    return model


def _fit_views(
    X: sp.csr_matrix, E: np.ndarray, y: np.ndarray, seed: int, weighting: str | None
) -> tuple[LinearSVC | None, LogisticRegression | None]:
    return _fit_sparse(X, y, seed, weighting), _fit_dense(E, y, weighting)


def blend(weights: np.ndarray, views: Sequence[np.ndarray]) -> np.ndarray:
    return sum(w * v for w, v in zip(weights, views, strict=True))  # type: ignore[return-value]


def fit_weights(views: Sequence[np.ndarray], y: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """Non-negative view weights minimising the log-loss of softmax(sum w_v * view_v + bias) on held-out scores."""
    rows = np.arange(len(y))
    offset = 0.0 if bias is None else bias

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        logp = log_softmax(blend(w, views) + offset, axis=1)
        p = np.exp(logp)
        grad = np.array([np.mean((p * v).sum(axis=1) - v[rows, y]) for v in views])
        return float(-logp[rows, y].mean()), grad

    result = minimize(loss, np.ones(len(views)), jac=True, method="L-BFGS-B", bounds=[(0.0, 100.0)] * len(views))
    return np.asarray(result.x, dtype=np.float64)


def macro_f1(y: np.ndarray, predicted: np.ndarray, n_classes: int) -> float:
    """Macro-F1 over the classes that occur in the truth or the predictions (as `agent.stats.macro_f1`)."""
    truth = np.bincount(y, minlength=n_classes)
    guessed = np.bincount(predicted, minlength=n_classes)
    hits = np.bincount(y[y == predicted], minlength=n_classes)
    seen = (truth + guessed) > 0
    return float((2 * hits[seen] / (truth[seen] + guessed[seen])).mean())


def _class_weights(counts: np.ndarray, weighting: str | None) -> np.ndarray | None:
    if weighting is None:
        return None
    return counts.sum() / (len(counts) * np.maximum(counts, 1))


def _folds(y: np.ndarray, n_classes: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    counts = np.bincount(y, minlength=n_classes)
    n_splits = min(_FOLDS, int(counts.max()))
    if len(y) < _MIN_ROWS_FOR_CV or n_splits < 2:
        return []
    return list(StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


@dataclass
class _Choice:
    macro_f1: float
    weighting: str | None
    alpha: float
    bias: np.ndarray
    weights: np.ndarray
    views: tuple[np.ndarray, ...]
    logits: np.ndarray
    knn_weights: np.ndarray | None


def _out_of_fold(
    X: sp.csr_matrix,
    E: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    folds: list[tuple[np.ndarray, np.ndarray]],
    weightings: Sequence[str | None],
    *,
    seed: int,
    n_jobs: int,
) -> dict[str | None, tuple[np.ndarray, np.ndarray]]:
    """Held-out (sparse, dense) scores of every training row, for each class weighting."""
    n = len(y)
    jobs = [(fold, w) for fold in range(len(folds)) for w in weightings]
    # Threads, not processes: liblinear and lbfgs release the GIL, and nothing is pickled.
    fitted = Parallel(n_jobs=n_jobs, prefer="threads")(
        delayed(_fit_views)(X[folds[f][0]], E[folds[f][0]], y[folds[f][0]], seed, w) for f, w in jobs
    )
    oof = {w: (np.zeros((n, n_classes)), np.zeros((n, n_classes))) for w in weightings}
    for (fold, w), (fold_sparse, fold_dense) in zip(jobs, fitted, strict=True):
        train, held = folds[fold]
        present = np.unique(y[train])
        only = int(present[0]) if present.size == 1 else None
        oof[w][0][held] = scores(fold_sparse, X[held], n_classes, only)
        oof[w][1][held] = scores(fold_dense, E[held], n_classes, only)
    return oof


def _choose(
    oof: dict[str | None, tuple[np.ndarray, np.ndarray]],
    knn: tuple[np.ndarray, np.ndarray],
    y: np.ndarray,
    counts: np.ndarray,
    alphas: Sequence[float],
    judge: np.ndarray | None = None,
) -> _Choice:
    """The class weighting and prior adjustment with the best out-of-fold macro-F1 (ties: the simpler,
    listed first), with the blend weights fitted by log-loss for that pair.

    `judge` (a boolean mask): choose on those rows' scores only (every row still votes as a neighbour); the
    returned views and logits are those rows'."""
    n_classes = len(counts)
    log_prior = np.log(counts / counts.sum())
    rows = judge if judge is not None else slice(None)  # every row: a view, not a copy of each score matrix
    target = y[rows]
    best: _Choice | None = None
    for weighting, (sparse, dense) in oof.items():
        knn_weights = _class_weights(counts, weighting)
        knn_votes = knn_log_votes(*knn, y, n_classes, temperature=KNN_TEMPERATURE, eps=KNN_EPS,
                                  class_weights=knn_weights)  # fmt: skip
        views = (sparse[rows], dense[rows], knn_votes[rows])
        for alpha in alphas:
            bias = -alpha * log_prior
            weights = fit_weights(views, target, bias)
            logits = blend(weights, views) + bias
            f1 = macro_f1(target, logits.argmax(axis=1), n_classes)
            if best is None or f1 > best.macro_f1 + 1e-9:
                best = _Choice(f1, weighting, alpha, bias, weights, views, logits, knn_weights)
    assert best is not None
    return best


def _cv_report(choice: _Choice, y: np.ndarray, classes: list[str]) -> dict[str, Any]:
    n, n_classes = len(y), len(classes)
    logp = log_softmax(choice.logits, axis=1)
    predicted = logp.argmax(axis=1)
    return {
        "cv_accuracy": float((predicted == y).mean()),
        "cv_macro_f1": choice.macro_f1,
        "cv_log_loss": float(-logp[np.arange(n), y].mean()),
        **{f"cv_accuracy_{v}": float((s.argmax(axis=1) == y).mean()) for v, s in zip(VIEWS, choice.views, strict=True)},
        # Out-of-fold confidences: the drift monitor's reference for how sure the model is on unseen text.
        "confidence_hist": np.histogram(np.exp(logp.max(axis=1)), bins=10, range=(0, 1))[0].tolist(),
        # ... and for which labels it predicts on unseen text (its bias included, unlike the true label mix).
        "predicted_counts": {classes[c]: int(k) for c, k in enumerate(np.bincount(predicted, minlength=n_classes))},
    }


def _usable_judge(judge: np.ndarray | None, y: np.ndarray, name: str, progress: Progress) -> np.ndarray | None:
    """`judge` when its rows are enough to choose a blend on (as many as cross-validation needs, two classes)."""
    if judge is None:
        return None
    if int(judge.sum()) < _MIN_ROWS_FOR_CV or np.unique(y[judge]).size < 2:
        progress(
            f"{name}: {int(judge.sum())} rows unseen by the encoder, too few to choose the blend on: using all rows"
        )
        return None
    progress(f"{name}: blend chosen on the {int(judge.sum())} rows the encoder was not tuned on")
    return judge


def train_field(
    name: str,
    X: sp.csr_matrix,
    E: np.ndarray,
    y: np.ndarray,
    classes: list[str],
    rows: np.ndarray | None,
    *,
    seed: int,
    n_jobs: int,
    progress: Progress,
    judge: np.ndarray | None = None,
) -> FieldModel:
    """One field's views and blend. `judge` marks the rows whose embeddings come from an encoder that never
    saw their labels (a tuned encoder's hold-out): the blend is chosen on those rows' out-of-fold scores."""
    n, n_classes = len(y), len(classes)
    if n_classes == 1:
        return FieldModel(classes, rows, y, None, None, np.zeros(3), {"cv_accuracy": 1.0, "cv_log_loss": 0.0})
    counts = np.bincount(y, minlength=n_classes)
    folds = _folds(y, n_classes, seed)
    progress(
        f"{name}: {n_classes} classes, {n} rows"
        + (f", {len(folds)}-fold cross-validation" if folds else " (too few rows to cross-validate)")
    )
    if not folds:
        sparse, dense = _fit_views(X, E, y, seed, None)
        return FieldModel(classes, rows, y, sparse, dense, np.array(_DEFAULT_WEIGHTS), {})
    # Weighting and prior adjustment only matter when the classes are skewed; on balanced data they are
    # (nearly) no-ops, and trying them would only double the fits.
    skewed = counts.max() > _SKEW * max(int(counts.min()), 1)
    weightings, alphas = (_WEIGHTINGS, _ALPHAS) if skewed else ((None,), (0.0,))
    judge = _usable_judge(judge, y, name, progress)
    oof = _out_of_fold(X, E, y, n_classes, folds, weightings, seed=seed, n_jobs=n_jobs)
    choice = _choose(oof, top_k(E, E, K, leave_one_out=True), y, counts, alphas, judge)
    sparse, dense = _fit_views(X, E, y, seed, choice.weighting)
    cv = _cv_report(choice, y if judge is None else y[judge], classes)
    settled = {"class_weight": choice.weighting or "none", "prior_adjustment": choice.alpha}
    progress(
        f"{name}: cross-validated accuracy {cv['cv_accuracy']:.1%}, macro-F1 {choice.macro_f1:.3f}, class weighting "
        f"{settled['class_weight']}, prior adjustment {choice.alpha:g}, weights "
        + ", ".join(f"{v} {w:.2f}" for v, w in zip(VIEWS, choice.weights, strict=True))
    )
    bias = None if choice.alpha == 0 else choice.bias
    return FieldModel(classes, rows, y, sparse, dense, choice.weights, cv, bias, choice.knn_weights, settled)

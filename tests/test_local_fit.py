"""How one field is fitted: class weighting and prior adjustment chosen on out-of-fold scores, kNN vote
weights, and models pickled before those existed still serving."""

from __future__ import annotations

import numpy as np
import pytest

from agent.features import TextFeatures, knn_log_votes, top_k
from agent.local_fit import _ALPHAS, FieldModel, K, _choose, _folds, _out_of_fold, macro_f1
from agent.local_model import LocalModel
from agent.stats import macro_f1 as reference_macro_f1


def test_macro_f1_matches_the_reports_definition() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 6, 50)
        predicted = np.where(rng.random(50) < 0.6, y, rng.integers(0, 6, 50))
        expected = reference_macro_f1([str(v) for v in y], [str(v) for v in predicted])
        assert macro_f1(y, predicted, 6) == pytest.approx(expected)


def test_class_weights_scale_each_neighbours_vote() -> None:
    # Three neighbours of class 0 and one of class 1, all equally similar: unweighted 3:1, and with class 1
    # weighted three times class 0 the vote is even.
    idx = np.array([[0, 1, 2, 3]])
    sims = np.full((1, 4), 0.8)
    labels = np.array([0, 0, 0, 1])
    plain = np.exp(knn_log_votes(idx, sims, labels, 2, temperature=20.0, eps=0.0))
    weighted = np.exp(
        knn_log_votes(idx, sims, labels, 2, temperature=20.0, eps=0.0, class_weights=np.array([1.0, 3.0]))
    )
    assert plain[0] == pytest.approx([0.75, 0.25])
    assert weighted[0] == pytest.approx([0.5, 0.5])


def _skewed(rng: np.random.Generator) -> tuple[list[str], np.ndarray, list[str]]:
    """A big class and two small ones, separable in the embedding only in part (noise), as helpdesk queues are."""
    sizes = {"general": 120, "billing": 15, "security": 12}
    centres = {name: rng.normal(size=16) for name in sizes}
    texts, vectors, labels = [], [], []
    for name, size in sizes.items():
        for i in range(size):
            texts.append(f"ticket {i} about {name if i % 3 else 'something'}")
            vectors.append(centres[name] + rng.normal(scale=1.5, size=16))
            labels.append(name)
    E = np.asarray(vectors, dtype=np.float32)
    return texts, E / np.linalg.norm(E, axis=1, keepdims=True), labels


def test_a_skewed_field_records_the_choice_made_on_out_of_fold_scores() -> None:
    texts, E, labels = _skewed(np.random.default_rng(1))
    messages: list[str] = []
    model = LocalModel.train(texts, E, {"queue": labels}, progress=messages.append)
    choice = model.meta["blend_choice"]["queue"]
    assert choice["class_weight"] in {"none", "balanced"}
    assert choice["prior_adjustment"] in _ALPHAS
    cv = model.meta["cross_validation"]["queue"]
    assert 0.0 < cv["cv_macro_f1"] <= 1.0
    assert any("class weighting" in m for m in messages)
    # The chosen blend is at least as good out of fold as the plain one (same folds; the grid includes no
    # weighting and no adjustment), and it still gives valid probabilities.
    y = np.array([model.fields["queue"].index(v) for v in labels])
    X = TextFeatures().fit_transform(texts)
    folds = _folds(y, 3, 0)
    plain = _out_of_fold(X, E, y, 3, folds, (None,), seed=0, n_jobs=1)
    counts = np.bincount(y)
    assert cv["cv_macro_f1"] >= _choose(plain, top_k(E, E, K, leave_one_out=True), y, counts, (0.0,)).macro_f1 - 1e-9
    probs = model.predict_proba(texts, E)["queue"]
    assert np.allclose(probs.sum(axis=1), 1.0)


def test_a_balanced_field_tries_no_weighting() -> None:
    rng = np.random.default_rng(2)
    E = rng.normal(size=(60, 8)).astype(np.float32)
    labels = ["a", "b", "c"] * 20
    model = LocalModel.train([f"text {i}" for i in range(60)], E, {"kind": labels})
    assert model.meta["blend_choice"]["kind"] == {"class_weight": "none", "prior_adjustment": 0.0}


def test_a_model_pickled_before_the_prior_adjustment_still_predicts() -> None:
    texts, E, labels = _skewed(np.random.default_rng(3))
    model = LocalModel.train(texts, E, {"queue": labels})
    fitted: FieldModel = model._fields["queue"]
    expected = model.predict_proba(texts[:5], E[:5])["queue"]
    # An old pickle has none of the new attributes in its __dict__: the class defaults (no bias, plain
    # kNN votes) must apply, and with them the old blend.
    for name in ("bias", "knn_class_weights", "choice"):
        fitted.__dict__.pop(name, None)
    old = model.predict_proba(texts[:5], E[:5])["queue"]
    assert np.allclose(old.sum(axis=1), 1.0)
    if model.meta["blend_choice"]["queue"] == {"class_weight": "none", "prior_adjustment": 0.0}:
        assert np.allclose(old, expected)


def test_the_blend_is_chosen_on_rows_the_encoder_never_saw() -> None:
    # A tuned encoder's vectors of the texts it learned from sit on their class centre (the dense view looks
    # perfect on them out of fold); the held-out rows' vectors are noise, while the words carry the class.
    # Chosen on every row, the blend trusts the dense view; chosen on the unseen rows, it trusts the words.
    rng = np.random.default_rng(3)
    classes = ["billing", "login", "shipping"]
    n = 240
    labels = [classes[i % 3] for i in range(n)]
    # The words name the class most of the time, and another class now and then.
    said = [label if rng.random() < 0.6 else classes[rng.integers(3)] for label in labels]
    texts = [f"my {word} question number {i}" for i, word in enumerate(said)]
    unseen = rng.random(n) < 0.3
    centres = np.eye(3, 16)
    E = np.where(
        unseen[:, None],
        rng.normal(size=(n, 16)),
        centres[[i % 3 for i in range(n)]] * 5 + rng.normal(scale=0.1, size=(n, 16)),
    )
    E = (E / np.linalg.norm(E, axis=1, keepdims=True)).astype(np.float32)
    messages: list[str] = []
    everywhere = LocalModel.train(texts, E, {"queue": labels})
    judged = LocalModel.train(texts, E, {"queue": labels}, judge=unseen.tolist(), progress=messages.append)

    def trust(model: LocalModel) -> float:
        weights = model.meta["blend_weights"]["queue"]
        return weights["dense"] / max(weights["sparse"], 1e-9)

    assert trust(judged) < trust(everywhere)
    assert judged.meta["blend_rows_unseen_by_encoder"] == int(unseen.sum())
    assert any(f"blend chosen on the {int(unseen.sum())} rows" in m for m in messages)
    # New texts, embedded like the unseen rows: the judged blend classifies them by their words.
    fresh = [f"my {label} question number {i}" for i, label in enumerate(labels[:30], start=1000)]
    noise = rng.normal(size=(30, 16)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)

    def right(model: LocalModel) -> float:
        guesses = model.predict(fresh, noise)
        return float(np.mean([g["queue"].value == t for g, t in zip(guesses, labels[:30], strict=True)]))

    assert right(judged) >= right(everywhere)
    assert right(judged) > 0.8

"""The baseline every report compares with: its recipe, and that it beats the old word-only one where it should."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from evals.baselines import PRIMARY_BASELINE, TFIDF_LR, tfidf_lr, vectorizers
from evals.metrics import macro_f1
from tests.conftest import SHARED_DATA


def old_word_only(train: list[str], labels: list[str], test: list[str]) -> list[str]:
    """The baseline before this change: word 1-2-grams only, C=10, no class weights."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(C=10.0, max_iter=1000).fit(vectorizer.fit_transform(train), labels)
    return [str(p) for p in model.predict(vectorizer.transform(test))]


def test_recipe_is_word_1_2_plus_char_wb_2_5_with_lr_c10() -> None:
    word, char = vectorizers()
    assert (word.analyzer, word.ngram_range, word.sublinear_tf) == ("word", (1, 2), True)
    assert (char.analyzer, char.ngram_range, char.sublinear_tf) == ("char_wb", (2, 5), True)
    # Bounded: the vocabulary (and so the classes x features coefficient matrix) is capped.
    assert word.max_features and char.max_features and word.max_features + char.max_features <= 250_000
    assert (TFIDF_LR.C, TFIDF_LR.solver, TFIDF_LR.class_weight) == (10.0, "lbfgs", "balanced")
    assert PRIMARY_BASELINE == "tfidf_lr"


# Each topic's words appear in training in one form and in test only in others (plural, inflected,
# misspelt, compounded): what users write. Word n-grams never saw the test forms; character n-grams did.
TOPICS = {
    "billing": (["invoice", "refund", "payment", "charged"], ["invoices", "refunds", "payments", "recharged"]),
    "account": (["password", "login", "username", "locked"], ["passwords", "logins", "usernames", "unlocked"]),
    "shipping": (["delivery", "parcel", "courier", "shipped"], ["deliveries", "parcels", "couriers", "reshipped"]),
}
FILLER = ["please", "help", "with", "my", "order", "today", "thanks", "the", "team", "again", "issue", "urgent"]


def _texts(forms_index: int, per_topic: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for topic, forms in TOPICS.items():
        for _ in range(per_topic):
            words = [*rng.sample(FILLER, 6), rng.choice(forms[forms_index])]
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(topic)
    return texts, labels


def test_char_view_generalises_to_word_forms_training_never_saw() -> None:
    train, labels = _texts(0, 20, seed=1)
    test, truth = _texts(1, 10, seed=2)
    strong = tfidf_lr(train, labels, test).values
    old = old_word_only(train, labels, test)
    assert macro_f1(truth, strong) >= 0.9
    # The old baseline only has the shared filler words to go on: not much better than chance (1/3).
    assert macro_f1(truth, old) <= 0.6
    # Same surface forms in test as in training: both are right, the char view costs nothing there.
    same, same_truth = _texts(0, 10, seed=3)
    assert macro_f1(same_truth, tfidf_lr(train, labels, same).values) == 1.0


def test_long_texts_are_cut_and_single_class_short_circuits() -> None:
    # A label only in the tail past max_chars must not be learnable: proof the text is cut.
    head = "alpha " * (TFIDF_LR.max_chars // 6 + 10)
    train = [head + "zebra", head + "yak"] * 5
    out = tfidf_lr(train, ["z", "y"] * 5, [head + "zebra"])
    assert out.confidence[0] == pytest.approx(0.5, abs=0.01)
    assert tfidf_lr(["a b", "c d"], ["x", "x"], ["e"]).values == ["x"]


@pytest.mark.slow
def test_beats_the_old_baseline_on_support_ticket_queues() -> None:
    from evals.datasets import load_dataset
    from evals.suites import SUITES_DIR, load_suite
    from knowledge.text import model_text

    suite = load_suite(SUITES_DIR / "support_tickets_multilang.toml")
    if suite.missing_data():
        pytest.skip(f"skipped: {suite.missing_data()[0]} not found (../shared/data is absent)")
    assert SHARED_DATA.is_dir()
    data = load_dataset(suite.dataset_spec())
    train = [model_text(t.subject, t.body) for t in data.train]
    labels = [t.labels["queue"] for t in data.train]
    test = [model_text(c.ticket.subject, c.ticket.body) for c in data.test]
    truth = [c.truth["queue"] for c in data.test]
    strong = macro_f1(truth, tfidf_lr(train, labels, test).values)
    old = macro_f1(truth, old_word_only(train, labels, test))
    # Measured 0.288 vs 0.216 on this split (10 skewed queues, English and German).
    assert strong - old >= 0.04, (strong, old)

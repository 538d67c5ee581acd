"""Baselines trained on the same training set in the same run: what "better than trivial" means.

* **majority** — always the most frequent training label (confidence = its training share);
* **tfidf_lr** — TF-IDF word 1-2-grams + multinomial logistic regression (scikit-learn), the usual
  "simple but honest" text classifier that published tables compare against.

Both see exactly the text the local model sees (`agent.text.model_text`) and nothing else.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

BASELINES = ("majority", "tfidf_lr")
_LR_C = 10.0


@dataclass(frozen=True)
class BaselinePredictions:
    values: list[str]
    confidence: list[float]


def majority(train_labels: Sequence[str], n_test: int) -> BaselinePredictions:
    counts = Counter(train_labels)
    # Ties go to the alphabetically first label so the baseline is deterministic.
    label, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return BaselinePredictions([label] * n_test, [count / len(train_labels)] * n_test)


def tfidf_lr(
    train_texts: Sequence[str], train_labels: Sequence[str], test_texts: Sequence[str], *, seed: int = 0
) -> BaselinePredictions:
    classes = sorted(set(train_labels))
    if len(classes) == 1:
        return BaselinePredictions([classes[0]] * len(test_texts), [1.0] * len(test_texts))
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, dtype=np.float32)
    X = vectorizer.fit_transform(train_texts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(C=_LR_C, max_iter=1000, random_state=seed).fit(X, list(train_labels))
    probs = model.predict_proba(vectorizer.transform(test_texts))
    best = probs.argmax(axis=1)
    return BaselinePredictions([str(model.classes_[i]) for i in best], probs.max(axis=1).astype(float).tolist())

"""Whose words are these: a linear text model over the people who resolved tickets lately.

TF-IDF word 1–2-grams and a linear SVM (one-vs-rest), trained on the tenant's resolved tickets with
each ticket weighted by the recency of its resolution, over the people whose recent activity reaches
`min_activity` (someone who stopped resolving tickets a year ago is no answer for today's ticket,
however well the words fit). Decision values become a distribution with a softmax at `temperature`.
Each person's weight vector is their text profile: its strongest terms explain it (`agents show`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

#: Text beyond this many characters adds little about who should work a ticket and costs time.
MAX_CHARS = 20_000


class TextModel:
    def __init__(self, vectorizer: TfidfVectorizer, model: LinearSVC, people: np.ndarray) -> None:
        self.vectorizer = vectorizer
        self.model = model
        #: Indices (into the profiles' `names`) of the people the model ranks, in its class order.
        self.people = people

    @classmethod
    def train(
        cls, texts: Sequence[str], owner: np.ndarray, weight: np.ndarray, activity: np.ndarray, min_activity: float
    ) -> TextModel | None:
        """None when fewer than two people are active enough to tell apart."""
        active = np.flatnonzero(activity >= min_activity)
        rows = np.flatnonzero(np.isin(owner, active))
        if len(active) < 2 or len(set(owner[rows].tolist())) < 2:
            return None
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, min_df=2 if len(rows) >= 50 else 1, max_features=200_000,
            dtype=np.float32,
        )  # fmt: skip
        X = vectorizer.fit_transform([texts[i][:MAX_CHARS] for i in rows])
        sample = weight[rows] / max(float(weight[rows].mean()), 1e-9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = LinearSVC(C=1.0, random_state=0).fit(X, owner[rows], sample_weight=sample)
        return cls(vectorizer, model, np.asarray(model.classes_, dtype=np.int64))

    def distribution(self, text: str, n_people: int, temperature: float) -> np.ndarray:
        """P(person | text) over all `n_people` (0 for people the model does not rank)."""
        scores = np.asarray(self.model.decision_function(self.vectorizer.transform([text[:MAX_CHARS]])))[0]
        if scores.ndim == 0:  # two classes: one decision value for the second class
            scores = np.array([-float(scores), float(scores)])
        z = temperature * (scores - scores.max())
        probs = np.exp(z) / np.exp(z).sum()
        out = np.zeros(n_people)
        out[self.people] = probs
        return out

    def top_terms(self, person: int, k: int = 8) -> list[str]:
        """The terms that most point to this person (empty when the model does not rank them)."""
        where = np.flatnonzero(self.people == person)
        if where.size == 0:
            return []
        coef = self.model.coef_
        row = coef[0] * (1 if where[0] == 1 else -1) if coef.shape[0] == 1 else coef[where[0]]
        row = np.asarray(row.todense()).ravel() if hasattr(row, "todense") else np.asarray(row).ravel()
        names = self.vectorizer.get_feature_names_out()
        return [str(names[i]) for i in np.argsort(-row)[:k] if row[i] > 0]

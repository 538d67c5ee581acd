"""Feature views for the local model: sparse text features and nearest-neighbour label votes.

Kept apart from `agent.local_model` so the model file reads as "how views are combined and
calibrated" and this one as "what each view sees". numpy, scipy and scikit-learn only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

# Long tickets (logs, stack traces, quoted threads) add little beyond their first few thousand
# characters but dominate char n-gram time and vocabulary; the embedder truncates at 256 tokens too.
MAX_CHARS = 4000
#: Vocabulary caps bound the coefficient matrices (classes x features, float64) on large histories.
_MAX_WORD_FEATURES = 100_000
_MAX_CHAR_FEATURES = 150_000
_MAX_SUBJECT_FEATURES = 30_000


def _subject(text: str) -> str:
    # `knowledge.text.model_text` puts the subject on the first line; for one-line texts this repeats
    # the word view, which costs little and leaves the blend to weigh it.
    return text.split("\n", 1)[0]


class TextFeatures:
    """TF-IDF views of a ticket: word 1-2-grams, char_wb 2-5-grams, and subject-line word 1-2-grams.

    Fitted once on every training text (labelled or not); fitting the vocabulary is unsupervised,
    so sharing it across fields and cross-validation folds leaks no label.
    """

    def __init__(self) -> None:
        word = {"ngram_range": (1, 2), "sublinear_tf": True, "min_df": 1, "dtype": np.float32}
        self.vectorizers: dict[str, TfidfVectorizer] = {
            "word": TfidfVectorizer(**word, max_features=_MAX_WORD_FEATURES),
            "subject": TfidfVectorizer(**word, max_features=_MAX_SUBJECT_FEATURES),
            "char": TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(2, 5),
                sublinear_tf=True,
                min_df=2,
                max_features=_MAX_CHAR_FEATURES,
                dtype=np.float32,
            ),
        }
        self.fitted: list[str] = []

    @staticmethod
    def _inputs(name: str, texts: Sequence[str]) -> list[str]:
        clipped = [t[:MAX_CHARS] for t in texts]
        return [_subject(t) for t in clipped] if name == "subject" else clipped

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        parts = []
        for name, vectorizer in self.vectorizers.items():
            try:
                parts.append(vectorizer.fit_transform(self._inputs(name, texts)))
            except ValueError:
                # An empty vocabulary (min_df=2 on a few distinct short texts, or no word tokens)
                # drops that view rather than failing the whole training run.
                continue
            self.fitted.append(name)
        if not parts:
            return sp.csr_matrix((len(texts), 0), dtype=np.float32)
        return sp.hstack(parts, format="csr", dtype=np.float32)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        parts = [self.vectorizers[name].transform(self._inputs(name, texts)) for name in self.fitted]
        if not parts:
            return sp.csr_matrix((len(texts), 0), dtype=np.float32)
        return sp.hstack(parts, format="csr", dtype=np.float32)


def top_k(
    queries: np.ndarray, base: np.ndarray, k: int, *, leave_one_out: bool = False, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine similarities of the k nearest rows of `base`, best first.

    With `leave_one_out`, `queries` is `base` itself and each row's own entry is excluded, so a
    training row's neighbour vote never includes its own label. Chunked so a large history never
    materialises the full n x n similarity matrix.
    """
    n = queries.shape[0]
    k = max(1, min(k, base.shape[0] - (1 if leave_one_out else 0)))
    idx = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, chunk):
        block = queries[start : start + chunk] @ base.T
        if leave_one_out:
            rows = np.arange(block.shape[0])
            block[rows, rows + start] = -np.inf
        idx[start : start + chunk], sims[start : start + chunk] = top_k_of(block, k)
    return idx, sims


def top_k_of(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest entries of each row of a similarity block: (column indices, values), best first."""
    k = max(1, min(k, block.shape[1]))
    part = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < block.shape[1] else np.argsort(-block, 1)
    part_sims = np.take_along_axis(block, part, 1)
    # Ties broken by column index keep neighbour order, and so training, deterministic.
    order = np.lexsort((part, -part_sims), axis=1)
    return np.take_along_axis(part, order, 1), np.take_along_axis(part_sims, order, 1)


def knn_log_votes(
    idx: np.ndarray,
    sims: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    *,
    temperature: float,
    eps: float,
    class_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Log of the similarity-weighted class distribution among the neighbours (softmax weights).

    The `eps` floor keeps classes no neighbour voted for finite, so the blend can still pick them
    when the other views are sure. `class_weights` scales each neighbour's vote by its label's weight
    (balanced: 1/frequency), so a small class's neighbours are not outvoted by a big class's mere numbers.
    """
    n, k = idx.shape
    weights = np.exp((sims - sims[:, :1]) * temperature)
    weights[~np.isfinite(weights)] = 0.0
    if class_weights is not None:
        weights = weights * class_weights[labels[idx]]
    votes = np.zeros((n, n_classes), dtype=np.float64)
    np.add.at(votes, (np.repeat(np.arange(n), k), labels[idx].ravel()), weights.ravel())
    votes /= np.clip(votes.sum(axis=1, keepdims=True), 1e-12, None)
    return np.log(votes + eps)

"""Person-valued fields (who resolved the ticket): ranking metrics and the baselines routing is measured against.

A routing suggestion is a ranked list of people. For each test row the rank of the true person in
that list gives **top-k accuracy** (the true person among the first k, k = 1, 3, 5, 10) and the
**reciprocal rank** (1/rank, 0 when absent; lists are cut at 10, so the mean is MRR@10). Rows whose
true person never appears in the training set cannot be ranked by any model built from it: `unseen`
counts them, and `ceiling` is the best top-k any such model can reach.

Baselines, trained on the same training rows in the same run:

* **most_frequent** — everyone gets the same list: the most frequent resolvers in training;
* **per_component** — people ranked by how often they resolved tickets sharing a component/tag with
  this one, then the most frequent resolvers;
* **tfidf_svm** — TF-IDF word 1–2-grams + char 2–5-grams and a linear SVM (one-vs-rest), people
  ranked by decision value: the static text classifier published comparisons use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from evals.metrics import bootstrap_ci
from knowledge.roster import Agent
from knowledge.schemas import Ticket

KS: tuple[int, ...] = (1, 3, 5, 10)
RANKING_BASELINES: tuple[str, ...] = ("most_frequent", "per_component", "tfidf_svm")
LIST_LENGTH = 10


class RankingScores(BaseModel):
    n: int
    top: dict[str, float]  # "1", "3", "5", "10" -> share of rows with the true person in the first k
    mrr: float


class RankingReport(RankingScores):
    #: Percentile bootstrap 95 % interval of each top-k (rows resampled; empty with bootstrap = 0).
    top_ci95: dict[str, tuple[float, float]] = Field(default_factory=dict)
    #: Rows whose true person never appears in training (no model built from it can rank them).
    unseen: int
    ceiling: float
    baselines: dict[str, RankingScores]
    #: baseline -> {"top1": ours minus theirs, "top5": ..., "mrr": ...}
    delta: dict[str, dict[str, float]]


def ranking_scores(truth: Sequence[str], ranked: Sequence[Sequence[str]], ks: Sequence[int] = KS) -> RankingScores:
    if len(truth) != len(ranked):
        raise ValueError(f"{len(truth)} true values but {len(ranked)} ranked lists")
    n = len(truth)
    ranks = []
    for person, candidates in zip(truth, ranked, strict=True):
        listed = list(candidates)[:LIST_LENGTH]
        ranks.append(listed.index(person) + 1 if person in listed else None)
    top = {str(k): (sum(1 for r in ranks if r is not None and r <= k) / n if n else 0.0) for k in ks}
    mrr = sum(1.0 / r for r in ranks if r is not None) / n if n else 0.0
    return RankingScores(n=n, top=top, mrr=mrr)


def ranking_report(
    truth: Sequence[str],
    ranked: Sequence[Sequence[str]],
    train_people: set[str],
    baselines: dict[str, list[list[str]]],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> RankingReport:
    ours = ranking_scores(truth, ranked)
    listed = [list(candidates)[:LIST_LENGTH] for candidates in ranked]
    intervals = {
        str(k): bootstrap_ci([p in c[:k] for p, c in zip(truth, listed, strict=True)], resamples=resamples, seed=seed)
        for k in KS
    }
    unseen = sum(1 for person in truth if person not in train_people)
    theirs = {name: ranking_scores(truth, lists) for name, lists in baselines.items()}
    delta = {
        name: {"top1": ours.top["1"] - s.top["1"], "top5": ours.top["5"] - s.top["5"], "mrr": ours.mrr - s.mrr}
        for name, s in theirs.items()
    }
    ceiling = (len(truth) - unseen) / len(truth) if truth else 0.0
    return RankingReport(
        **ours.model_dump(),
        top_ci95=intervals if resamples and truth else {},
        unseen=unseen,
        ceiling=ceiling,
        baselines=theirs,
        delta=delta,
    )


# --- baselines ---------------------------------------------------------------------------------------
def _by_count(counts: Counter[str]) -> list[str]:
    # Ties go alphabetically so every baseline is deterministic.
    return [person for person, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def most_frequent(train_people: Sequence[str], n_test: int) -> list[list[str]]:
    top = _by_count(Counter(train_people))[:LIST_LENGTH]
    return [list(top) for _ in range(n_test)]


def per_component(
    train_people: Sequence[str], train_components: Sequence[Sequence[str]], test_components: Sequence[Sequence[str]]
) -> list[list[str]]:
    overall = _by_count(Counter(train_people))
    per: dict[str, Counter[str]] = {}
    for person, components in zip(train_people, train_components, strict=True):
        for component in components:
            per.setdefault(component, Counter())[person] += 1
    out = []
    for components in test_components:
        counts: Counter[str] = Counter()
        for component in components:
            counts.update(per.get(component, Counter()))
        ranked = _by_count(counts)
        ranked += [p for p in overall[: LIST_LENGTH * 2] if p not in counts]
        out.append(ranked[:LIST_LENGTH])
    return out


def tfidf_svm(train_texts: Sequence[str], train_people: Sequence[str], test_texts: Sequence[str]) -> list[list[str]]:
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    classes = sorted(set(train_people))
    if len(classes) == 1:
        return [list(classes) for _ in test_texts]
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, dtype=np.float32)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, dtype=np.float32)
    X = hstack([words.fit_transform(train_texts), chars.fit_transform(train_texts)]).tocsr()
    T = hstack([words.transform(test_texts), chars.transform(test_texts)]).tocsr()
    model = LinearSVC(C=0.5, random_state=0).fit(X, list(train_people))
    scores = model.decision_function(T)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :LIST_LENGTH]
    return [[str(model.classes_[j]) for j in row] for row in order]


# --- the runner's hooks --------------------------------------------------------------------------------
def derived_roster(train: Sequence[Ticket], person_fields: Sequence[str]) -> list[Agent]:
    """Without a roster file, everyone who resolved a training ticket is an agent: no capacity, no shifts."""
    people: dict[tuple[str, str], None] = {}
    for ticket in train:
        for name in person_fields:
            if ticket.labels.get(name):
                people[(ticket.tenant, ticket.labels[name])] = None
    return [Agent(id=person, name=person, tenant=tenant) for tenant, person in people]


def ranking_baselines(train: Sequence[Ticket], tests: Sequence[Ticket], person: str) -> dict[str, list[list[str]]]:
    """Every baseline's ranked lists for `tests`, trained on the training rows labelled with `person`."""
    from knowledge.text import model_text

    rows = [t for t in train if t.labels.get(person)]
    people = [t.labels[person] for t in rows]
    return {
        "most_frequent": most_frequent(people, len(tests)),
        "per_component": per_component(people, [t.tags for t in rows], [t.tags for t in tests]),
        "tfidf_svm": tfidf_svm(
            [model_text(t.subject, t.body) for t in rows], people, [model_text(t.subject, t.body) for t in tests]
        ),
    }


def ranking_rows(report: RankingReport) -> list[list[str]]:
    """Ours and each baseline: top-1/3/5/10 and MRR as a table body (report.md and the CLI summary)."""
    rows = [("ours (routing)", report), *report.baselines.items()]
    out = [[name, *(f"{s.top[str(k)]:.3f}" for k in KS), f"{s.mrr:.3f}"] for name, s in rows]
    if report.top_ci95:
        out.insert(1, ["  95 % CI", *(f"{lo:.3f}–{hi:.3f}" for lo, hi in (report.top_ci95[str(k)] for k in KS)), ""])
    return out


RANKING_HEADER: list[str] = ["model", *(f"top-{k}" for k in KS), "MRR@10"]

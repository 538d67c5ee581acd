"""Dedupe clustering and the group-aware split on synthetic data: groups never straddle, quotas hold."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np

from finetune.dedupe import exact_duplicates, exact_key, leakage_groups, near_duplicate_clusters, similar_pairs
from finetune.split import stratified_split, time_split


def _unit(rows: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_exact_key_ignores_case_spacing_and_punctuation() -> None:
    assert exact_key("Invoice  missing!\nPlease HELP.") == exact_key("invoice missing - please help")
    assert exact_key("<EMAIL_1> wrote") != exact_key("<EMAIL_2> wrote")
    assert exact_duplicates(["a", "b", "a", "c", "b"]) == [None, None, 0, None, 1]


def test_near_duplicates_cluster_transitively_and_keep_the_earliest() -> None:
    vectors = _unit([[1, 0, 0], [0.99, 0.14, 0], [0.96, 0.28, 0], [0, 1, 0], [0, 0, 1]])
    assert {(i, j) for i, j, _ in similar_pairs(vectors, 0.98)} == {(0, 1), (1, 2)}
    assert near_duplicate_clusters(vectors, 0.98) == [[0, 1, 2], [3], [4]]
    assert near_duplicate_clusters(vectors, 1.01) == [[0], [1], [2], [3], [4]]  # threshold above 1: exact only


def test_leakage_groups_join_shared_customers_and_threads() -> None:
    vectors = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.7, 0.7, 0.1], [0.3, 0.3, 1]])
    keys = [[("customer", "c1")], [("thread", "t9")], [("customer", "c1"), ("thread", "t9")], [], []]
    assert leakage_groups(5, vectors, 0.97, keys) == [[0, 1, 2], [3], [4]]


def test_stratified_split_never_cuts_a_group_and_meets_the_quota() -> None:
    for seed in range(25):
        rng = random.Random(seed)
        labels: list[str | None] = []
        groups: list[list[int]] = []
        for _ in range(120):
            size = rng.choice([1, 1, 1, 2, 3, 5])
            label = rng.choice(["a", "a", "b", "c", None])
            groups.append(list(range(len(labels), len(labels) + size)))
            labels.extend([label] * size)
        result = stratified_split(groups, labels, 0.2, seed)
        for group in groups:
            assert len({result.side(i) for i in group}) == 1
        totals, val = Counter(labels), Counter(labels[i] for i in result.val)
        for label, total in totals.items():
            assert val[label] <= round(total * 0.2)  # never over-filled by a large group
            assert val[label] >= round(total * 0.2) - 5  # and close: singletons fill the remainder
        assert result == stratified_split(groups, labels, 0.2, seed)  # deterministic


def test_time_split_validates_on_the_latest_groups() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    times = [start + timedelta(days=day) for day in (1, 2, 3, 10, 11, 12, 20, 21, 22, 30)]
    groups = [[0, 9], [1], [2], [3], [4], [5], [6], [7], [8]]  # ticket 0 is old but its thread runs to day 30
    result = time_split(groups, times, 0.3)
    assert result.val == frozenset({0, 9, 8})
    assert result.cutoff == times[8]
    assert all(times[i] <= result.cutoff for i in range(10) if i not in result.val)

"""Group-aware train/validation split: a group (same customer, thread or near-duplicate cluster) is
never cut in two, so validation measures generalisation rather than recall of a sibling ticket.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

NO_LABEL = "(none)"


@dataclass(frozen=True)
class SplitResult:
    val: frozenset[int]
    cutoff: datetime | None = None

    def side(self, index: int) -> str:
        return "val" if index in self.val else "train"


def stratified_split(
    groups: Sequence[Sequence[int]], labels: Sequence[str | None], val_fraction: float, seed: int
) -> SplitResult:
    """Fill each class's validation quota with whole groups, visiting groups in a seeded order.

    A group counts towards the class most of its members have. Small groups fill the quotas
    exactly; a group larger than what is left of its quota goes to train, so validation is never
    over-filled by one big customer.
    """
    totals = Counter(labels[i] or NO_LABEL for group in groups for i in group)
    quota = {label: round(count * val_fraction) for label, count in totals.items()}
    taken: Counter[str] = Counter()
    order = list(range(len(groups)))
    random.Random(seed).shuffle(order)
    val: set[int] = set()
    for index in order:
        group = groups[index]
        label = _majority([labels[i] or NO_LABEL for i in group])
        if taken[label] + len(group) <= quota[label]:
            taken[label] += len(group)
            val.update(group)
    if not val and len(groups) > 1:
        # Every group was larger than its quota (tiny data): the smallest group still makes a validation set.
        smallest = min(order, key=lambda g: (len(groups[g]), order.index(g)))
        val.update(groups[smallest])
    return SplitResult(frozenset(val))


def time_split(groups: Sequence[Sequence[int]], times: Sequence[datetime], val_fraction: float) -> SplitResult:
    """The latest tickets validate. A group belongs to the time of its *latest* ticket, so no group
    with a ticket after the cutoff can put that future into training."""

    def latest(group: Sequence[int]) -> datetime:
        return max(_aware(times[i]) for i in group)

    ordered = sorted(range(len(groups)), key=lambda g: (latest(groups[g]), groups[g][0]), reverse=True)
    wanted = max(1, round(sum(len(g) for g in groups) * val_fraction)) if len(groups) > 1 else 0
    val: set[int] = set()
    chosen: list[int] = []
    for index in ordered:
        if len(val) >= wanted:
            break
        val.update(groups[index])
        chosen.append(index)
    # Every training ticket is at or before the cutoff; every validation group ends at or after it.
    cutoff = min((latest(groups[g]) for g in chosen), default=None)
    return SplitResult(frozenset(val), cutoff)


def _majority(values: list[str]) -> str:
    counts = Counter(values)
    return max(sorted(counts), key=lambda v: counts[v])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)

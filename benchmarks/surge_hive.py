"""The surge replay's second, small check: real duplicates from Apache Hive's Jira.

Data: ../shared/data/apache_jira_hive/hive_bugs.csv (read in place; skipped with a message when absent).
Groups are the connected components of its `duplicate_links` with 2–4 issues (real reports of one bug).
Simulation (its assumptions): a background of other Hive bugs (summary + the first 300 characters of the
description), drawn at random from `HIVE_POOL` of them, arrives on the UCI hourly profile scaled to a
quarter (~66 a day: a tracker, not a helpdesk); after one warm-up week `HIVE_GROUPS` groups are injected at
uniformly random times of the next week, each group's issues spread over a random 10–60 minutes. Groups of
2–4 are below the default `min_size` (5): on their own they are not a surge, so the check prints how many
groups the detector keeps together (all members in one incident, opened by the group or joined) and how
many it opens, with the policy as given and as a duplicate finder (`min_size` 2, `p_value` 0.01,
`min_expected` 0.05), and how many groups' later members match their first one at the similarity threshold.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import numpy as np

from benchmarks.surge_sim import START, Event, Replay, background, replay
from insights.surge import SurgePolicy

HIVE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "apache_jira_hive" / "hive_bugs.csv"
HIVE_POOL = 800
HIVE_GROUPS = 40
HIVE_SCALE = 0.25


def _text(row: dict[str, str]) -> str:
    return f"{row['summary']}\n{row['description'][:300]}"


def duplicate_groups(rows: dict[str, dict[str, str]]) -> list[list[str]]:
    """Connected components (2-4 issues present in the file) of the duplicate links, by union-find."""
    parent = {key: key for key in rows}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for key, row in rows.items():
        for link in filter(None, row["duplicate_links"].split(";")):
            other = link.split(":", 1)[-1].strip()
            if other in parent:
                parent[find(key)] = find(other)
    members: dict[str, list[str]] = defaultdict(list)
    for key in rows:
        members[find(key)].append(key)
    return sorted(sorted(g) for g in members.values() if 2 <= len(g) <= 4)


def _load() -> tuple[dict[str, dict[str, str]], list[list[str]]] | None:
    if not HIVE.exists():
        print(f"hive check skipped: {HIVE} is absent (Apache Hive's Jira lives in ../shared/data)")
        return None
    csv.field_size_limit(sys.maxsize)
    with HIVE.open(encoding="utf-8") as f:
        rows = {r["key"]: r for r in csv.DictReader(f)}
    return rows, duplicate_groups(rows)


def _events(groups: list[list[str]], pool: int, rng: np.random.Generator) -> list[Event]:
    """Background (pool indices) and group members (indices after the pool), group id on each member."""
    events = background(2, pool, rng, scale=HIVE_SCALE)
    index = pool
    for g, group in enumerate(groups):
        begin = START + timedelta(weeks=1, seconds=float(rng.uniform(0, 7 * 86400 - 3600)))
        minutes = float(rng.uniform(10, 60))
        for at in sorted(rng.uniform(0, minutes * 60, len(group))):
            events.append((begin + timedelta(seconds=float(at)), index, g))
            index += 1
    return sorted(events)


def hive_check(args: argparse.Namespace, policy: SurgePolicy, embedder: object) -> None:
    loaded = _load()
    if loaded is None:
        return
    rows, all_groups = loaded
    rng = np.random.default_rng(args.seed)
    grouped = {key for g in all_groups for key in g}
    others = [k for k in sorted(rows) if k not in grouped and not rows[k]["duplicate_links"]]
    pool = [others[i] for i in rng.choice(len(others), size=min(HIVE_POOL, len(others)), replace=False)]
    groups = [all_groups[i] for i in rng.choice(len(all_groups), size=min(HIVE_GROUPS, len(all_groups)),
                                                 replace=False)]  # fmt: skip
    keys = pool + [k for g in groups for k in g]
    texts = [_text(rows[k]) for k in keys]
    vectors = embedder.embed(texts)  # type: ignore[attr-defined]
    events = _events(groups, len(pool), rng)
    print(f"\nhive duplicates: {len(all_groups)} groups of 2-4 in the file; {len(groups)} injected into "
          f"{len(events) - sum(map(len, groups))} background bugs over 2 weeks (1 warm-up)")  # fmt: skip
    _visible(groups, vectors, len(pool), policy.similarity)
    # A duplicate finder: pairs may open when that kind is rare (the surge bar needs 5 at the 0.25 floor).
    finder = policy.model_copy(update={"min_size": 2, "p_value": 0.01, "min_expected": 0.05})
    for name, p in (("policy", policy), ("finder", finder)):
        together, opened, background_opened = _score(replay(events, vectors, texts, p), events, len(groups))
        print(f"  {name:<6} (min_size {p.min_size}, p_value {p.p_value:g}, min_expected {p.min_expected}): "
              f"{together}/{len(groups)} groups kept together in one incident ({opened} opened by the group "
              f"itself); {background_opened} incidents opened by background bugs in the scored week")  # fmt: skip


def _score(run: Replay, events: list[Event], groups: int) -> tuple[int, int, int]:
    """Groups whose members all sit in one incident, those of them the group opened, and incidents a
    background bug opened after the warm-up week."""
    members: dict[str, set[str]] = {}
    first_hit: dict[str, int] = {}
    for n, incident in run.hits:  # the latest snapshot of an incident holds all its members so far
        first_hit.setdefault(incident.id, n)
        members[incident.id] = {m.ticket_id for m in incident.members}
    tickets = [{f"m{n}" for n, e in enumerate(events) if e[2] == g} for g in range(groups)]
    homes = [[i for i, held in members.items() if group <= held] for group in tickets]
    together = sum(1 for h in homes if h)
    opened = sum(1 for g, h in enumerate(homes) if h and events[first_hit[h[0]]][2] == g)
    warm = START + timedelta(weeks=1)
    background_opened = sum(1 for n in first_hit.values() if events[n][2] < 0 and events[n][0] >= warm)
    return together, opened, background_opened


def _visible(groups: list[list[str]], vectors: np.ndarray, pool: int, similarity: float) -> None:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    index, matched = pool, 0
    for group in groups:
        block = unit[index : index + len(group)]
        matched += int(np.all(block[1:] @ block[0] >= similarity))
        index += len(group)
    print(f"  {matched}/{len(groups)} groups: every later report matches the first at cosine >= {similarity}")

"""Load balancing, measured: replay the Apache Hive test period in time order and route each bug three ways.

    python benchmarks/routing_replay.py --embedding-cache /tmp/caseworker-emb

Data: ../shared/data/apache_jira_hive/hive_bugs.csv (exits 0 with "skipped: ..." when absent). The split
is the `hive_routing` eval suite's: skill profiles from the assigned bugs up to the newest 20 %; the
replay is the newest 20 % in creation order.

The data has no roster, so agents, capacities and shifts are derived from the training period's activity:

* agents: everyone who resolved a bug in the 365 days before the cut;
* capacity: their 90th-percentile number of simultaneously open bugs (created → resolved, sampled at
  each of their bugs' creation) over that year, at least 2;
* shift: the 10-hour window (UTC) holding most of their resolution times; Monday to Friday unless a
  fifth or more of their resolutions fell on a weekend (then every day).

Replay: each test-period bug in creation order. A bug its reporter assigned to themselves was never
routed: it occupies its real assignee (background load, as it happened). Every other bug is routed
by the strategy and occupies the chosen agent for its real created → resolved time, capped at 60 days.

* round_robin — the next agent in a fixed cycle;
* skill_only — the best skill match (tools.routing.scoring), load and shifts ignored;
* skill_load — the product's policy (tools.routing.policy): on shift and below capacity first, room left
  in the score;
* skill_capacity — the same policy blind to shifts (everyone counts as on shift when routing; first touch
  still waits for the person's real shift): separates what capacity and shifts each cost in skill.

Figures: mean skill match of the assigned agent (1.0 = the best-fitting person for that bug), the share
routed to the bug's real resolver, the largest open load any agent reached, the mean Gini of open load
across agents at each arrival, the share of routed bugs assigned at or over capacity, and simulated time
to first touch = the wait until the agent's shift starts + 30 minutes per ticket already open with them.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evals.datasets import DatasetSpec, load_dataset  # noqa: E402
from evals.runner import CachedEmbedder  # noqa: E402
from knowledge.embeddings import local_embedder  # noqa: E402
from knowledge.roster import Agent, WorkingHours  # noqa: E402
from knowledge.schemas import Ticket  # noqa: E402
from knowledge.text import model_text  # noqa: E402
from tools.routing.policy import RoutingFacts, RoutingPolicy, decide_routing  # noqa: E402
from tools.routing.profiles import TenantProfiles, build_profiles, resolved_at, skill_values  # noqa: E402
from tools.routing.scoring import history_fit  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "apache_jira_hive" / "hive_bugs.csv"
MAP = ["id=key", "text=summary,description", "created_at=created", "resolved_at=resolutiondate",
       "customer_id=reporter", "tags=components", "assignee=assignee"]  # fmt: skip
ACTIVE_DAYS = 365
MAX_HOLD = timedelta(days=60)
TOUCH_PER_OPEN = timedelta(minutes=30)
SHIFT_HOURS = 10
csv.field_size_limit(2**31 - 1)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def derive_roster(train: list[Ticket], cut: datetime) -> list[Agent]:
    """Agents active in the year before the cut, with capacities and shifts read off their activity."""
    since = cut - timedelta(days=ACTIVE_DAYS)
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for t in train:
        done = resolved_at(t)
        if t.created_at is None or done is None or done < since:
            continue
        spans[t.labels["assignee"]].append((_aware(t.created_at), done))
    agents = []
    for person, intervals in sorted(spans.items()):
        concurrent = [sum(1 for s, e in intervals if s <= start < e) for start, _ in intervals]
        capacity = max(2, int(np.percentile(concurrent, 90)))
        hours = Counter(e.hour for _, e in intervals)
        start = max(range(24), key=lambda h: sum(hours[(h + i) % 24] for i in range(SHIFT_HOURS)))
        weekend = sum(1 for _, e in intervals if e.weekday() >= 5) / len(intervals)
        days = "Mon-Sun" if weekend >= 0.2 else "Mon-Fri"
        end = (start + SHIFT_HOURS) % 24
        shift = WorkingHours.parse(f"{days} {start:02d}:00-{end:02d}:00", "UTC")
        agents.append(Agent(id=person, name=person, capacity=capacity, hours=shift))
    return agents


def gini(values: list[int]) -> float:
    x = np.sort(np.asarray(values, dtype=float))
    if x.sum() == 0:
        return 0.0
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1).dot(x) / (n * x.sum()))


def _next_shift_start(agent: Agent, at: datetime) -> timedelta:
    if agent.on_shift(at):
        return timedelta(0)
    probe = at.replace(minute=0, second=0, microsecond=0)
    for hours in range(1, 24 * 8):
        if agent.on_shift(probe + timedelta(hours=hours)):
            return probe + timedelta(hours=hours) - at
    return timedelta(days=7)


@dataclass
class Outcome:
    skill: list[float] = field(default_factory=list)
    hits: int = 0
    over: int = 0
    routed: int = 0
    max_load: int = 0
    ginis: list[float] = field(default_factory=list)
    touch_h: list[float] = field(default_factory=list)


@dataclass
class Bug:
    ticket: Ticket
    embedding: np.ndarray
    truth: str
    reporter: str
    created: datetime
    hold: timedelta


def replay(strategy: str, bugs: list[Bug], roster: list[Agent], profiles: TenantProfiles) -> Outcome:
    policy = RoutingPolicy()
    by_id = {a.id: a for a in roster}
    releases: dict[str, list[datetime]] = defaultdict(list)
    out, cycle = Outcome(), 0
    for bug in bugs:
        for person in releases:
            releases[person] = [r for r in releases[person] if r > bug.created]
        load = {p: len(r) for p, r in releases.items() if r}
        if bug.truth == bug.reporter:  # never routed: the real assignee's background load
            releases[bug.truth].append(bug.created + bug.hold)
            continue
        facts = RoutingFacts(
            now=bug.created, embedding=bug.embedding.tolist(), skills=skill_values(bug.ticket),
            text=model_text(bug.ticket.subject, bug.ticket.body), requester=frozenset({bug.reporter}),
        )  # fmt: skip
        fit = history_fit(profiles, bug.embedding, facts.skills, policy.skill, facts.text)
        candidates = [a for a in roster if a.id != bug.reporter]
        if strategy == "round_robin":
            chosen = candidates[cycle % len(candidates)].id
            cycle += 1
        elif strategy == "skill_only":
            chosen = max(candidates, key=lambda a: (fit.get(a.id, 0.0), a.id)).id
        else:
            seen = roster if strategy == "skill_load" else [a.model_copy(update={"hours": None}) for a in roster]
            chosen = decide_routing(seen, load, profiles, facts, policy).ranked[0]
        agent = by_id[chosen]
        open_now = load.get(chosen, 0)
        out.routed += 1
        out.skill.append(fit.get(chosen, 0.0))
        out.hits += chosen == bug.truth
        out.over += agent.capacity is not None and open_now >= agent.capacity
        out.touch_h.append((_next_shift_start(agent, bug.created) + open_now * TOUCH_PER_OPEN).total_seconds() / 3600)
        releases[chosen].append(bug.created + bug.hold)
        loads = [len([r for r in releases[a.id] if r > bug.created]) for a in roster]
        out.max_load = max(out.max_load, max(loads))
        out.ginis.append(gini(loads))
    return out


def _bugs(cases: list, embedder: CachedEmbedder, resolved: dict[str, str]) -> list[Bug]:  # type: ignore[type-arg]
    vectors = embedder.embed([model_text(c.ticket.subject, c.ticket.body) for c in cases])
    bugs = []
    for case, vector in zip(cases, vectors, strict=True):
        created = _aware(case.ticket.created_at)
        done = resolved_at(Ticket(id="x", subject="", body="", extra={"resolved_at": resolved.get(case.source_id)}))
        hold = min(done - created, MAX_HOLD) if done and done > created else MAX_HOLD
        reporter = case.ticket.customer.id if case.ticket.customer else ""
        bugs.append(Bug(case.ticket, vector, case.truth["assignee"], reporter or "", created, hold))
    return sorted(bugs, key=lambda b: b.created)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedding-cache", type=Path, default=Path("/tmp/caseworker-embedding-cache"))
    parser.add_argument("--half-life-days", type=float, default=180.0)
    args = parser.parse_args()
    if not DATA.is_file():
        print(f"skipped: {DATA} is absent (see ../shared/data/README.md)")
        return
    data = load_dataset(DatasetSpec(train=DATA, map=MAP, split="time", person_fields=["assignee"]))
    embedder = CachedEmbedder(local_embedder(2), args.embedding_cache)
    texts = [model_text(t.subject, t.body) for t in data.train]
    train_vectors = embedder.embed(texts)
    profiles = build_profiles("default", data.train, train_vectors, texts=texts, half_life_days=args.half_life_days)
    with DATA.open(newline="", encoding="utf-8") as handle:
        resolved = {row["key"]: row["resolutiondate"] for row in csv.DictReader(handle)}
    bugs = _bugs(data.test, embedder, resolved)
    embedder.save()
    cut = max(_aware(t.created_at) for t in data.train if t.created_at)
    roster = derive_roster(data.train, cut)
    routed = sum(1 for b in bugs if b.truth != b.reporter)
    print(f"{len(roster)} agents active in the year before {cut:%Y-%m-%d}; capacities "
          f"{min(a.capacity or 0 for a in roster)}–{max(a.capacity or 0 for a in roster)}; replaying {len(bugs)} "
          f"bugs ({routed} routed, {len(bugs) - routed} self-assigned background load)\n")  # fmt: skip
    header = ("strategy", "mean skill", "real resolver", "max open", "mean Gini", "over capacity",
              "first touch h (median / p90)")  # fmt: skip
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for strategy in ("round_robin", "skill_only", "skill_load", "skill_capacity"):
        o = replay(strategy, bugs, roster, profiles)
        touch = np.asarray(o.touch_h)
        print(f"| {strategy} | {np.mean(o.skill):.3f} | {o.hits / o.routed:.3f} | {o.max_load} | "
              f"{np.mean(o.ginis):.3f} | {o.over / o.routed:.3f} | "
              f"{np.median(touch):.1f} / {np.percentile(touch, 90):.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()

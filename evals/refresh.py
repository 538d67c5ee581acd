"""The deployment protocol for routing on a time split: skill profiles (and the baselines) rebuilt every N days.

Frozen at the cut, a routing model never hears of the people who joined, or of what anyone fixed, after the
training period ends; a deployment rebuilds its profiles on a schedule (`caseworker train`) from what has been
resolved by then. `refresh_schedule` replays that on a time split's test period:

* refresh points are cut + k·N days (k = 0, 1, ...); each test row is scored with the history of the latest
  point at or before its creation;
* the history at a point t is the training rows (as the split left them: labelled, resolution times after the
  cut hidden) plus the test-period rows resolved at or before t, with their labels; a row without a resolution
  time never joins (nobody can say it was resolved by then), and a row scored in that window never joins its
  own window's history, whatever its dates say.

One implementation serves the eval runner (`caseworker eval`, `refresh_days`) and benchmarks/routing_refresh.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from evals.ranking import derived_roster, ranking_baselines
from knowledge.roster import Roster
from knowledge.schemas import Ticket
from tools.routing.build import store_tenant_profiles
from tools.routing.profiles import resolved_at

if TYPE_CHECKING:
    from config.components import Components
    from evals.datasets import EvalDataset


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class RefreshWindow:
    """One refresh point: when it ran, what history it saw, and which test rows (by index) it scored."""

    at: datetime
    #: the test-period rows resolved by `at` that joined the training rows (ids as in the data)
    added: list[Ticket]
    rows: list[int] = field(default_factory=list)

    def history(self, train: Sequence[Ticket]) -> list[Ticket]:
        return [*train, *self.added]


def training_cut(train: Sequence[Ticket]) -> datetime:
    """The newest training row's creation time: where the time split cut."""
    times = [aware(t.created_at) for t in train if t.created_at is not None]
    if not times:
        raise ValueError("a refresh needs training rows with a creation time (a time split)")
    return max(times)


def known_at(period: Sequence[Ticket], when: datetime, exclude: frozenset[str] = frozenset()) -> list[Ticket]:
    """The test-period rows resolved at or before `when` (never one without a resolution time, nor `exclude`)."""
    out = []
    for ticket in period:
        done = resolved_at(ticket)
        if done is None or done > when or ticket.id in exclude:
            continue
        if ticket.created_at is not None and aware(ticket.created_at) > when:
            continue  # resolved "before" it existed: bad dates, never knowledge at `when`
        out.append(ticket)
    return out


def refresh_schedule(
    cut: datetime,
    created: Sequence[datetime | None],
    source_ids: Sequence[str],
    period: Sequence[Ticket],
    days: int,
) -> list[RefreshWindow]:
    """The refresh points that score at least one test row, oldest first, each with its history additions.

    `created[i]` / `source_ids[i]` are test row i's creation time and id in the data (`period` uses the same
    ids); a row without a creation time is scored at the cut."""
    if days < 1:
        raise ValueError("refresh_days must be at least 1")
    step = timedelta(days=days)
    by_point: dict[int, list[int]] = {}
    for i, when in enumerate(created):
        k = max(int((aware(when) - cut) // step), 0) if when is not None else 0
        by_point.setdefault(k, []).append(i)
    windows = []
    for k in sorted(by_point):
        at = cut + k * step
        rows = by_point[k]
        scored = frozenset(source_ids[i] for i in rows)
        windows.append(RefreshWindow(at=at, added=known_at(period, at, scored), rows=rows))
    return windows


def schedule_for(dataset: EvalDataset, days: int | None) -> list[RefreshWindow]:
    """The eval's refresh windows over its test rows (none without `days` or a person field)."""
    if days is None or not dataset.person_fields or not dataset.test:
        return []
    created = [c.ticket.created_at for c in dataset.test]
    sources = [c.source_id for c in dataset.test]
    return refresh_schedule(training_cut(dataset.train), created, sources, dataset.period, days)


def rebuild_routing(
    workspace: Components, window: RefreshWindow, train: Sequence[Ticket], person_fields: Sequence[str]
) -> None:
    """What the scheduled retrain does at `window.at`: profiles from the history known then, stored as each
    tenant's newest version (the graph's routing step picks it up); whoever resolved a ticket by then is an
    agent (the eval's roster is derived from the history, no capacity or shifts)."""
    s = workspace.settings
    history = window.history(train)
    Roster(workspace.history).upsert(derived_roster(window.added, person_fields))
    for tenant in sorted({t.tenant for t in history}):
        mine = [t for t in history if t.tenant == tenant]
        store_tenant_profiles(workspace.history, workspace.store, workspace.embedder, tenant, mine,
                              s.routing_person_label, s.routing_half_life_days)  # fmt: skip


def refreshed_baselines(
    train: Sequence[Ticket], windows: Sequence[RefreshWindow], rows: Sequence[int], tests: Sequence[Ticket], name: str
) -> dict[str, list[list[str]]]:
    """Every ranking baseline refit at each refresh point on that point's history, for the test rows it scores.

    `rows` are the test-row indices scoring `name` and `tests` their tickets (same order); lists come back in
    that order."""
    position = {row: j for j, row in enumerate(rows)}
    out: dict[str, list[list[str]]] = {}
    for window in windows:
        mine = [i for i in window.rows if i in position]
        if not mine:
            continue
        fitted = ranking_baselines(window.history(train), [tests[position[i]] for i in mine], name)
        for baseline, lists in fitted.items():
            slot = out.setdefault(baseline, [[] for _ in rows])
            for i, ranked in zip(mine, lists, strict=True):
                slot[position[i]] = ranked
    return out


def protocol_note(days: int, windows: Sequence[RefreshWindow], n_train: int) -> str:
    last = windows[-1] if windows else None
    return (
        f"routing refresh every {days} days (the deployment protocol): skill profiles rebuilt at {len(windows)} "
        f"points of the test period, each from the {n_train} training rows plus the test-period rows resolved by "
        f"then (with their labels; {len(last.added) if last else 0} by the last point; rows without a resolution "
        "time never join), and every ranking baseline refit on the same rows at the same points; each test row "
        "is scored with the latest point at or before its creation. Training rows resolved after the cut keep "
        "their resolution time hidden; the classifier, retrieval and the other fields' baselines stay as built "
        "at the cut"
    )

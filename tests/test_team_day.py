"""A team's day (issue 10): real `caseworker serve --workers 0` and two `caseworker worker` processes on one
data dir take 500 signed deliveries from all five sources (10 % redeliveries, 10 % follow-up messages,
5 % hostile bodies) while a reviewer decides drafts through the API every few seconds, an operator runs
`caseworker ingest tickets` and `caseworker train` halfway, and one worker is SIGKILLed and restarted.
benchmarks/team_day.py runs the same day and prints its figures.

At the end, as the issue lists it: every accepted delivery has exactly one current result, no job is dead
except with a validation reason, no response was 5xx, and every worker is still processing.
"""

from __future__ import annotations

import pytest

from benchmarks.team_day import DayConfig, run_day
from benchmarks.team_day_report import DayFigures, Failure
from benchmarks.team_day_traffic import SOURCES
from config.components import Components
from tests.conftest import SMALL_HISTORY

pytestmark = pytest.mark.slow

#: The trained_workspace's small-history settings, for the operator's `caseworker train` mid-day too.
SMALL_HISTORY_ENV = {f"CASEWORKER_{name.upper()}": str(value) for name, value in SMALL_HISTORY.items()}

RULES = ("one result", "current result", "dead job", "5xx", "worker processing")


def _broken(failures: list[Failure], *rules: str) -> list[str]:
    return [f"{f.rule}: {f.what}" for f in failures if f.rule in rules]


def _assert_the_day_happened(figures: DayFigures) -> None:
    posted = figures.exchanges.of("poster")
    assert len(posted) == 500
    accepted_sources = {figures.posts[e.post or 0].source for e in figures.accepted()}
    assert accepted_sources == set(SOURCES)
    kinds = {figures.posts[e.post or 0].kind for e in posted}
    assert kinds == {"new", "redelivery", "follow_up", "hostile"}
    assert figures.kills == 1 and figures.worker_starts == 3
    assert len(figures.ops) == 2 and all(" exit 0 " in line for line in figures.ops), figures.ops
    decided = {kind for (kind, status), n in figures.review_decisions.items() if status == 200 and n}
    assert decided == {"approve", "edit", "reject"}, figures.review_decisions


def test_a_team_day(trained_workspace: Components) -> None:
    data_dir = trained_workspace.settings.data_dir
    trained_workspace.history.close()

    figures = run_day(data_dir, DayConfig(deliveries=500, post_seconds=150, settings_env=SMALL_HISTORY_ENV))

    print("\n" + "\n".join(figures.lines()))
    _assert_the_day_happened(figures)
    failures = figures.failures()
    ordinary = [f for f in failures if not f.hostile]
    # The list, over every delivery that was not a hostile body:
    assert not _broken(ordinary, "one result", "current result"), "accepted deliveries without one current result"
    assert not _broken(ordinary, "dead job"), "jobs dead without a validation reason"
    assert not _broken(ordinary, "5xx"), "5xx responses"
    assert not _broken(ordinary, "worker processing"), "workers that stopped processing"
    # ... and over the hostile ones (huge, 900-deep, control characters and lone surrogates, year 9999):
    assert not _broken([f for f in failures if f.hostile], *RULES), "hostile bodies broke the rules"

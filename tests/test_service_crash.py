"""Crash test: 2,000 signed deliveries (10 % redeliveries) at concurrency 50 to a real `caseworker serve`
process while the separate `caseworker worker` process is SIGKILLed twice and restarted. Every distinct
delivery must end with exactly one stored result, and no job may be left stuck."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.webhook_load import run_scenario
from config.components import Components
from config.settings import Settings
from tests.chroma_server import chroma_server
from tests.conftest import SMALL_HISTORY, history_tickets
from tests.postgres import fresh_schema

pytestmark = pytest.mark.slow


def test_every_delivery_has_exactly_one_result_after_worker_kills(trained_workspace: Components) -> None:
    data_dir = trained_workspace.settings.data_dir
    trained_workspace.history.close()
    texts = [(t.subject, t.body) for t in history_tickets()]

    report = run_scenario(data_dir, texts, deliveries=2000, duplicate_share=0.1, concurrency=50, kills=2)

    print("\n".join(report.lines()))
    load = report.load
    assert len(load.statuses) == 2000
    assert set(load.statuses) <= {200, 202}, sorted(set(load.statuses))
    assert load.statuses.count(202) == report.check.distinct == 1800
    # A redelivery names the job of its first delivery, never a new one.
    assert all(len(ids) == 1 for ids in load.job_ids.values())
    assert report.kills == 2
    check = report.check
    assert check.jobs == check.results == check.jobs_with_one_result == 1800
    assert check.jobs_not_done == 0 and check.duplicate_results == 0
    assert check.ok


def test_postgres_and_a_chroma_server_with_two_workers_each_killed_once(tmp_path: Path) -> None:
    """Past one machine: the API and two worker processes share one Postgres and one Chroma server, nothing
    on a shared filesystem; both workers are SIGKILLed once (and restarted) while 2,000 deliveries arrive."""
    with fresh_schema() as database_url, chroma_server(tmp_path / "chroma-server") as chroma_url:
        data_dir = tmp_path / "data"
        settings = Settings(data_dir=data_dir, database_url=database_url, chroma_url=chroma_url, **SMALL_HISTORY)
        workspace = Components(settings)
        workspace.ingest.tickets(history_tickets())
        workspace.train()
        workspace.history.close()
        texts = [(t.subject, t.body) for t in history_tickets()]

        report = run_scenario(data_dir, texts, deliveries=2000, duplicate_share=0.1, concurrency=50, kills=2,
                              workers=2, database_url=database_url, chroma_url=chroma_url)  # fmt: skip

        print("\n".join(report.lines()))
        assert not (data_dir / "history.sqlite3").exists() and not (data_dir / "chroma").exists()
        load = report.load
        assert set(load.statuses) <= {200, 202} and load.statuses.count(202) == report.check.distinct == 1800
        assert all(len(ids) == 1 for ids in load.job_ids.values())
        assert report.kills == 2
        check = report.check
        assert check.jobs == check.results == check.jobs_with_one_result == 1800
        assert check.jobs_not_done == 0 and check.duplicate_results == 0

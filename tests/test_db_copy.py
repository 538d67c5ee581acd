"""Moving a team to Postgres: `caseworker db copy --to URL` on the demo's data dir (plus a pending review from
the service) loses nothing: every table's rows are counted on both sides, the model still serves, and the
review paused before the move is decided after it."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from caseworker.cli import app
from caseworker.demo import run_demo
from config.components import Components
from config.settings import Settings
from service.app import create_app
from service.worker import Worker
from tests.postgres import fresh_schema
from tests.test_service import AUTH, MIXED, SECRET, TOKEN, post_zendesk

pytestmark = pytest.mark.slow


def _service(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, workers=0))


def test_copying_the_demo_data_dir_to_postgres_loses_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    run_demo(Settings(data_dir=data_dir), Console(file=io.StringIO()))
    service = {"zendesk_secret": SECRET, "api_token": TOKEN, "review_undo_s": 0}
    with _service(Settings(data_dir=data_dir, **service)) as client:
        post_zendesk(client, "9001", *MIXED, "copy-1")
        Worker(client.app.state.runtime, threading.Event()).run_until_idle()  # type: ignore[attr-defined]
        (pending,) = client.get("/api/reviews", headers=AUTH).json()["items"]

    with fresh_schema() as url:
        runner = CliRunner()
        copied = runner.invoke(app, ["db", "copy", "--to", url, "--data-dir", str(data_dir)])
        assert copied.exit_code == 0, copied.output
        assert "MISMATCH" not in copied.output

        before = Components(Settings(data_dir=data_dir))
        after = Components(Settings(data_dir=data_dir, database_url=url))
        for table in ("tickets", "results", "audit", "jobs", "reviews", "models", "taxonomy"):
            source = before.history.query_one(f"SELECT COUNT(*) FROM {table}")[0]
            assert after.history.query_one(f"SELECT COUNT(*) FROM {table}")[0] == source > 0, table
        assert after.registry.champion_version("default") == before.registry.champion_version("default")
        assert after.models.for_tenant("default") is not None
        assert after.taxonomy is not None and after.taxonomy.categories == before.taxonomy.categories  # type: ignore[union-attr]
        after.history.close()

        # The review paused before the move is decided on Postgres (its checkpoint stayed behind).
        with _service(Settings(data_dir=data_dir, database_url=url, **service)) as client:
            decided = client.post(f"/api/reviews/{pending['id']}/approve", headers=AUTH, json={"reviewer": "sam"})
            assert decided.status_code == 200, decided.text
            assert decided.json()["review"]["state"] == "approved"
            again = runner.invoke(app, ["db", "copy", "--to", url, "--data-dir", str(data_dir)])
            assert again.exit_code != 0 and "already has rows" in again.output


def test_the_copy_knows_every_table_the_history_creates(tmp_path: Path) -> None:
    from knowledge.db_copy import OWN_TABLES, TABLES

    components = Components(Settings(data_dir=tmp_path / "data"))
    created = {row[0] for row in components.history.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    components.history.close()
    created -= {"sqlite_sequence", *OWN_TABLES}
    assert created == {table for table, _ in TABLES}, "a new table must be listed in knowledge/db_copy.py TABLES"

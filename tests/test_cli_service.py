"""`caseworker serve | worker | jobs` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from caseworker.cli import app
from knowledge.history import History
from knowledge.jobs import NewJob
from service.queue import JobQueue
from tools.helpdesk.actions import WriteBackAction

REPLY = WriteBackAction(
    kind="reply", source="zendesk", tenant="default", ticket_id="zendesk:9", external_id="9", body="Hello"
).model_dump_json()

runner = CliRunner()


def _dead_job(data_dir: Path) -> str:
    queue = JobQueue(History(data_dir / "history.sqlite3"), max_attempts=1)
    job_id, _ = queue.enqueue(NewJob("writeback", "zendesk", "wb-1", "default", "zendesk:9", REPLY))
    job = queue.claim()
    assert job is not None
    queue.fail(job.lease, "WriteBackError: zendesk answered 403 Forbidden")
    queue.history.close()
    return job_id


def test_jobs_list_show_and_retry(tmp_path: Path) -> None:
    data = tmp_path / "data"
    job_id = _dead_job(data)
    listed = runner.invoke(app, ["jobs", "list", "--data-dir", str(data), "--state", "dead"])
    assert listed.exit_code == 0, listed.output
    assert job_id in listed.output and "dead 1" in listed.output
    shown = runner.invoke(app, ["jobs", "show", job_id, "--data-dir", str(data)])
    assert shown.exit_code == 0
    detail = json.loads(shown.output)
    assert detail["state"] == "dead" and "403" in detail["last_error"] and detail["payload"]["body"] == "Hello"
    assert "lease_token" not in detail
    retried = runner.invoke(app, ["jobs", "retry", "--all-dead", "--data-dir", str(data)])
    assert retried.exit_code == 0 and f"{job_id}: queued" in retried.output
    again = runner.invoke(app, ["jobs", "retry", job_id, "--data-dir", str(data)])
    assert again.exit_code == 1 and "only failed or dead jobs can be retried" in again.output
    missing = runner.invoke(app, ["jobs", "show", "j-nope", "--data-dir", str(data)])
    assert missing.exit_code == 2 and "no job j-nope" in missing.output


def test_worker_once_drains_the_queue(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _dead_job(data)
    runner.invoke(app, ["jobs", "retry", "--all-dead", "--data-dir", str(data)])
    result = runner.invoke(app, ["worker", "--once", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    # The retried write-back runs dry (write-back is off by default), so it completes.
    assert "1 job(s) run" in result.output
    assert "no trained model" in result.output  # this data dir was never trained
    history = History(data / "history.sqlite3")
    assert [r["detail"]["dry_run"] for r in history.audit_rows("zendesk:9") if r["event"] == "writeback"] == [True]


def test_serve_refuses_a_public_bind_without_a_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEWORKER_API_TOKEN", raising=False)
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2
    assert "CASEWORKER_API_TOKEN" in result.output


def test_serve_refuses_a_public_bind_with_a_short_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORKER_API_TOKEN", "hunter2")
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2
    assert "7-character CASEWORKER_API_TOKEN" in result.output and "at least 32 characters" in result.output
    assert "hunter2" not in result.output


def test_serve_help_explains_itself() -> None:
    result = runner.invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "/review" in result.output and "--workers" in result.output


def test_jobs_on_a_missing_data_dir_says_so_and_creates_nothing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["jobs", "list", "--data-dir", str(tmp_path / "typo")])
    assert result.exit_code == 2 and "no history at" in result.output
    assert not (tmp_path / "typo").exists()


HOSTILE_ID = "evil\x1b[2J\x1b]0;owned\x07[red]x[/red]\u202eabc\u2066"
HOSTILE_ERROR = "boom \x1b[31mred\x1b[0m\r\nforged line \x9b1m\u200f"


def test_jobs_commands_print_stored_client_text_inert(tmp_path: Path) -> None:
    """Ticket ids and errors come from webhooks: escape codes, bidi overrides and Rich markup in them
    must reach the operator's terminal as plain text, never as commands."""
    data = tmp_path / "data"
    queue = JobQueue(History(data / "history.sqlite3"), max_attempts=1)
    job_id, _ = queue.enqueue(NewJob("triage", "generic", "d-evil", "default", HOSTILE_ID, "{}"))
    job = queue.claim()
    assert job is not None
    queue.fail(job.lease, HOSTILE_ERROR)
    queue.history.close()
    for args in (["jobs", "list"], ["jobs", "show", job_id]):
        result = runner.invoke(app, [*args, "--data-dir", str(data)])
        assert result.exit_code == 0, result.output
        shown = result.output
        for unsafe in ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\r", "\u200f"):
            assert unsafe not in shown, (args, unsafe, shown)
        assert "[red]x[/red]" in shown  # markup printed literally, not interpreted
        if args[1] == "list":
            assert "evil[red]x[/red]\ufffdabc\ufffd" in shown  # escape sequences gone, bidi controls replaced
    assert "forged line" in shown  # `jobs show` has the whole error (the list's column folds it)

"""The CLI as a user runs it: exit codes and messages on bad input, idempotent ingest, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from caseworker.cli import app

runner = CliRunner()


def _invoke(*args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def test_ingest_with_rejects_exits_1_and_keeps_valid_rows(tmp_path: Path) -> None:
    data = tmp_path / "data"
    csv = tmp_path / "tickets.csv"
    csv.write_text(
        "ticket_id,subject,body,queue,priority,answer\n"
        "1,Forgot password,I cannot log in,account,low,Use the reset link\n"
        "2,Invoice,Where is my invoice,billing,whenever,See Settings → Billing\n"
        "3,,,billing,low,x\n"
        "4,Refund,Charged twice,billing,high,Refunded\n",
        encoding="utf-8",
    )
    args = ["ingest", "tickets", str(csv), "--data-dir", str(data), "--map", "id=ticket_id",
            "--map", "text=subject,body", "--map", "queue=queue", "--map", "priority=priority",
            "--map", "reply=answer"]  # fmt: skip
    first = _invoke(*args)
    assert first.exit_code == 1
    assert "4 rows read: 2 new, 0 updated, 0 unchanged, 2 rejected" in first.output
    rejects = (tmp_path / "tickets.csv.rejects.txt").read_text().splitlines()
    assert rejects[0].startswith(f"{csv}:3: priority: unknown priority 'whenever'")
    assert rejects[1].startswith(f"{csv}:4: text:")
    again = _invoke(*args)
    assert "0 new, 0 updated, 2 unchanged, 2 rejected" in again.output


def test_missing_mapped_column_is_a_clear_error(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("subject,body\na,b\n")
    result = _invoke("ingest", "tickets", str(csv), "--data-dir", str(tmp_path / "d"), "--map", "queue=team")
    assert result.exit_code == 2
    assert "team" in result.output


def test_triage_reports_bad_tickets_by_line_and_field(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "a", "subject": "Password", "body": "I forgot my password"}\n'
        '{"id": "b", "subject": "No body"}\n'
        "not json\n"
        '{"id": "c", "subject": "Hi", "body": "Hello", "created_at": "yesterday"}\n',
        encoding="utf-8",
    )
    result = _invoke("triage", str(source), "--data-dir", str(tmp_path / "d"))
    assert result.exit_code == 1
    assert f"{source}:2: body: Field required" in result.output
    assert f"{source}:3: json:" in result.output
    assert f"{source}:4: created_at:" in result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert [json.loads(line)["ticket_id"] for line in lines] == ["a"]


def test_triage_from_stdin(tmp_path: Path) -> None:
    ticket = {"id": "s1", "subject": "Hi", "body": "How do I export my data?", "extra_field": 1}
    result = _invoke("triage", "-", "--data-dir", str(tmp_path / "d"), input=json.dumps(ticket))
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert json.loads(lines[0])["ticket_id"] == "s1"


def test_schema_is_the_triage_result_schema() -> None:
    result = _invoke("schema")
    schema = json.loads(result.stdout)
    assert schema["title"] == "TriageResult"
    assert {"classification", "decision", "draft", "escalation", "sla", "meta"} <= set(schema["properties"])


def test_train_without_history_explains_what_to_do(tmp_path: Path) -> None:
    result = _invoke("train", "--data-dir", str(tmp_path / "d"))
    assert result.exit_code == 2
    assert "caseworker ingest tickets" in result.output


def test_invalid_setting_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORKER_K_TICKETS", "many")
    result = _invoke("train", "--data-dir", str(tmp_path / "d"))
    assert result.exit_code == 2
    assert "CASEWORKER_K_TICKETS" in result.output


def test_price_table_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import Settings

    monkeypatch.setenv("CASEWORKER_LLM_PRICES", '{"gpt-4o-mini": [0.15, 0.6]}')
    monkeypatch.setenv("CASEWORKER_LLM_PRICE_INPUT_PER_MTOK", "1.5")
    assert Settings(model="gpt-4o-mini").llm_price() == (0.15, 0.6)
    assert Settings(model="other").llm_price() == (1.5, 0.0)

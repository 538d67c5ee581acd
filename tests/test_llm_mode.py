"""The graph in llm and cascade modes against a scripted OpenAI-compatible server: answers used,
fallbacks taken, calls saved, and every ticket ends with a valid stored result whatever the LLM does."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from agent.graph import triage
from agent.llm import LLMClient, LLMConfig
from agent.schemas import TriageResult
from caseworker.batch import triage_all
from config.components import Components
from knowledge.schemas import Ticket
from tests.fake_llm import FakeLLM, Reply, completion, error, requested_fields, task_of, tool_calls


def sensible(request: dict[str, Any], _n: int) -> Reply:
    """A well-behaved model: plausible labels, grounded drafts citing the first source it was given."""
    task = task_of(request)
    prompt = request["messages"][-1]["content"]
    if task == "classify":
        answers = {}
        for name, allowed in requested_fields(request).items():
            preferred = [v for v in allowed if v in ("password_reset", "account", "P3", "neutral", "low")]
            answers[name] = {"value": (preferred or allowed)[0], "confidence": 0.93}
        return completion(answers)
    if task == "tools":  # look one thing up, then write
        looked_up = any(m.get("role") == "tool" for m in request["messages"])
        return completion("ready") if looked_up else tool_calls(("search_kb", {"query": "reset password"}))
    if task == "draft":
        source = re.search(r'<source id="([^"]+)"', prompt)
        return completion({"body": "Use the Forgot password link on the sign-in page.", "citations": [source[1]]})
    return completion({"summary": "Customer reports a problem needing an engineer.", "customer_tried": ["restart"]})


def _llm(server: FakeLLM, **config: Any) -> LLMClient:
    return LLMClient(LLMConfig(model="fake", base_url=server.base_url, backoff_s=0.001, **config))


def _ticket(tid: str, subject: str, body: str) -> Ticket:
    return Ticket(id=tid, subject=subject, body=body)


def test_llm_mode_uses_the_llm_answers_and_writes_the_draft(trained_workspace: Components) -> None:
    with FakeLLM(sensible) as server:
        context = trained_workspace.context()
        context.mode, context.llm = "llm", _llm(server)
        result = triage(_ticket("L1", "Password help", "I forgot my password and the reset mail never came."), context)
        tasks = [task_of(r) for r in server.requests]
    assert tasks == ["classify", "tools", "tools", "draft"]  # one look-up round, then the answer
    c = result.classification
    assert (c.category.value, c.category.source) == ("password_reset", "llm")
    assert result.draft is not None and result.draft.body.startswith("Use the Forgot password link")
    cited = result.draft.citations[0]  # the most similar source, a KB article or a resolved ticket
    assert (cited.kind, cited.id) in {("kb", "KB-1"), *(("ticket", t.id) for t in result.evidence.similar_tickets)}
    assert result.meta.mode == "llm" and result.meta.llm_calls == 4  # classify, two tool turns, the draft
    assert result.meta.tokens_in == 480 and result.meta.tokens_out == 120
    assert {"classify", "draft"} <= set(result.meta.prompt_versions)
    audit = [row for row in trained_workspace.history.audit_rows("L1") if row["event"] == "llm_call"]
    assert audit == []  # the client was built here without the workspace's audit sink
    TriageResult.model_validate_json(result.model_dump_json())


def test_workspace_llm_client_audits_every_call(trained_workspace: Components) -> None:
    with FakeLLM(sensible) as server:
        settings = trained_workspace.settings.model_copy(
            update={"mode": "llm", "model": "fake", "openai_base_url": server.base_url}
        )
        workspace = Components(settings)
        triage(_ticket("L2", "Invoice", "Where do I download my invoice?"), workspace.context())
    rows = [row for row in workspace.history.audit_rows("L2") if row["event"] == "llm_call"]
    assert [row["detail"]["task"] for row in rows] == ["classify", "tool_turn", "tool_turn", "draft"]
    assert all(row["detail"]["outcome"] == "ok" and row["detail"]["prompt"] for row in rows)


def test_label_outside_the_taxonomy_falls_back_to_local_and_needs_review(trained_workspace: Components) -> None:
    def off_taxonomy(request: dict[str, Any], _n: int) -> Reply:
        if request["response_format"]["type"] == "json_schema":
            return error(400, "json_schema unsupported")  # a server that can't enforce the enum
        if task_of(request) == "classify":
            fields = requested_fields(request)
            return completion({name: {"value": "made_up_label", "confidence": 0.99} for name in fields})
        return sensible(request, _n)

    with FakeLLM(off_taxonomy) as server:
        context = trained_workspace.context()
        context.mode, context.llm = "llm", _llm(server)
        result = triage(_ticket("L3", "Forgot password", "I can't log in, forgot my password."), context)
    c = result.classification
    assert c.needs_review and any("unusable" in note for note in c.review_notes)
    assert c.category.source == "local" and c.category.value == "password_reset"
    assert result.decision.action.value != "auto_resolve"


def test_cascade_calls_the_llm_only_when_the_local_model_is_unsure(trained_workspace: Components) -> None:
    with FakeLLM(sensible) as server:
        context = trained_workspace.context()
        context.mode, context.llm = "cascade", _llm(server)
        context.cascade_threshold = 0.0  # everything counts as sure: no call
        sure = triage(_ticket("C1", "Forgot my password", "Password reset please."), context)
        calls_when_sure = len(server.requests)
        context.cascade_threshold = 1.01  # nothing is sure enough: the routing fields go to the LLM
        unsure = triage(_ticket("C2", "Forgot my password", "Password reset please."), context)
        asked = requested_fields(server.requests[calls_when_sure])
    assert calls_when_sure == 0
    assert (sure.meta.llm_calls, sure.meta.llm_calls_saved) == (0, 1)
    assert (unsure.meta.llm_calls_saved, unsure.meta.llm_calls) == (0, 4)  # classify, two tool turns, the draft
    assert set(asked) == {"queue", "category"}  # the watched fields only: priority and sentiment stay local


@pytest.mark.slow
def test_with_30_percent_of_requests_failing_every_ticket_ends_with_a_stored_result(
    trained_workspace: Components,
) -> None:
    rng = random.Random(7)
    lock_free_rng_calls: list[float] = []

    def flaky(request: dict[str, Any], n: int) -> Reply:
        roll = rng.random()
        lock_free_rng_calls.append(roll)
        if roll < 0.10:
            return error(500)
        if roll < 0.18:
            return error(429, "slow down", {"retry-after": "0"})
        if roll < 0.24:
            return completion("{truncated", "length")
        if roll < 0.30:
            return completion("not json at all")
        return sensible(request, n)

    subjects = ["Forgot password", "Invoice copy", "Charged twice", "Site down", "Reset link expired"]
    tickets = [_ticket(f"R{i}", subjects[i % 5], f"Ticket number {i}: {subjects[i % 5].lower()}.") for i in range(200)]
    with FakeLLM(flaky) as server:
        context = trained_workspace.context()
        context.mode = "llm"
        context.llm = _llm(server, max_attempts=3, breaker_threshold=10_000)
        summary = triage_all(tickets, context, workers=4)
        failures = sum(1 for roll in lock_free_rng_calls if roll < 0.30)
    assert summary.tickets == 200
    assert failures > 100  # the server really did fail ~30 % of its requests
    history = trained_workspace.history
    for ticket in tickets:
        stored = history.latest_result("default", ticket.id)
        assert stored is not None, ticket.id
        TriageResult.model_validate(stored)


def test_cli_triage_in_cascade_mode_reports_the_calls_saved(
    trained_workspace: Components, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from caseworker.cli import app

    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(
            json.dumps({"id": f"K{i}", "subject": "Forgot password", "body": "Reset my password"}) for i in range(3)
        )
    )
    with FakeLLM(sensible) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("CASEWORKER_MODEL", "fake")
        data_dir = str(trained_workspace.settings.data_dir)
        result = CliRunner().invoke(app, ["triage", str(source), "--mode", "cascade", "--data-dir", data_dir])
    assert result.exit_code == 0, result.output
    assert "3 tickets triaged in cascade mode" in result.output
    assert "cascade saved" in result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["meta"]["mode"] for r in lines] == ["cascade"] * 3


def test_cli_llm_mode_without_a_model_is_a_clear_error(trained_workspace: Components, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from caseworker.cli import app

    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "x", "subject": "s", "body": "b"}))
    data_dir = str(trained_workspace.settings.data_dir)
    result = CliRunner(env={"CASEWORKER_MODEL": None, "OPENAI_BASE_URL": None, "OPENAI_API_KEY": None}).invoke(
        app, ["triage", str(source), "--mode", "llm", "--data-dir", data_dir]
    )
    assert result.exit_code == 2
    assert "CASEWORKER_MODEL" in result.output

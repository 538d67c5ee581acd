"""The LLM client against a scripted OpenAI-compatible server on 127.0.0.1: retries, Retry-After,
timeouts, repair of invalid output, the json_object fallback, the circuit breaker and the audit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from agent.llm import LLMClient, LLMConfig, LLMOutputError, LLMUnavailable
from tests.fake_llm import FakeLLM, Reply, completion, error


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    confidence: float


GOOD = {"label": "billing", "confidence": 0.9}


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.audit: list[dict[str, Any]] = []


def _client(server: FakeLLM, recorder: Recorder, **config: Any) -> LLMClient:
    settings = {"model": "fake", "base_url": server.base_url, "backoff_s": 0.01, "timeout_s": 2.0, **config}
    return LLMClient(LLMConfig(**settings), audit=recorder.audit.append, sleep=recorder.sleeps.append)


def _ask(client: LLMClient) -> Any:
    return client.structured(task="t", prompt_version="v1", system="sys", user="ticket", output=Answer)


def test_429_honours_retry_after_then_succeeds() -> None:
    script = [error(429, "slow down", {"retry-after": "2"}), completion(GOOD)]
    recorder = Recorder()
    with FakeLLM(lambda _req, n: script[n - 1]) as server:
        reply = _ask(_client(server, recorder))
    assert reply.value == Answer(**GOOD)
    assert reply.attempts == 2
    assert recorder.sleeps == [2.0]


def test_5xx_are_retried_with_growing_backoff() -> None:
    script = [error(500), error(502), error(503), completion(GOOD)]
    recorder = Recorder()
    with FakeLLM(lambda _req, n: script[n - 1]) as server:
        reply = _ask(_client(server, recorder, max_attempts=4))
    assert reply.attempts == 4
    assert len(recorder.sleeps) == 3
    assert recorder.sleeps[2] > recorder.sleeps[0]  # exponential, jitter stays within ×0.5–1.5


def test_a_reply_slower_than_the_timeout_is_retried() -> None:
    script = [Reply(body=completion(GOOD).body, delay_s=1.5), completion(GOOD)]
    recorder = Recorder()
    with FakeLLM(lambda _req, n: script[min(n, 2) - 1]) as server:
        reply = _ask(_client(server, recorder, timeout_s=0.5))
    assert reply.value.label == "billing" and reply.attempts == 2


def test_transport_failures_past_the_attempts_raise_unavailable() -> None:
    recorder = Recorder()
    with FakeLLM(lambda _req, _n: error(500)) as server:
        with pytest.raises(LLMUnavailable):
            _ask(_client(server, recorder, max_attempts=3))
        assert len(server.requests) == 3
    assert recorder.audit[-1]["outcome"].startswith("unavailable")


def test_client_errors_are_not_retried() -> None:
    recorder = Recorder()
    with FakeLLM(lambda _req, _n: error(401, "bad key")) as server:
        with pytest.raises(LLMUnavailable):
            _ask(_client(server, recorder))
        assert len(server.requests) == 1


@pytest.mark.parametrize(
    "bad",
    [completion("{not json"), completion({"label": "x"}), completion('{"label": "billing", "conf', "length")],
    ids=["invalid-json", "missing-field", "truncated"],
)
def test_invalid_output_gets_one_repair_round_quoting_the_error(bad: Reply) -> None:
    script = [bad, completion(GOOD)]
    recorder = Recorder()
    with FakeLLM(lambda _req, n: script[n - 1]) as server:
        reply = _ask(_client(server, recorder))
        repair = server.requests[1]["messages"][-1]["content"]
    assert reply.value == Answer(**GOOD)
    assert "not valid" in repair
    assert [row["outcome"].split(":")[0] for row in recorder.audit] == ["invalid", "ok"]


def test_output_still_invalid_after_repair_raises() -> None:
    recorder = Recorder()
    with FakeLLM(lambda _req, _n: completion("nope")) as server:
        with pytest.raises(LLMOutputError):
            _ask(_client(server, recorder))
        assert len(server.requests) == 2


def test_a_check_beyond_the_schema_triggers_repair() -> None:
    script = [completion({"label": "spam", "confidence": 0.9}), completion(GOOD)]

    def only_known(answer: Answer) -> None:
        if answer.label not in ("billing", "account"):
            raise ValueError(f"label {answer.label!r} is not in the taxonomy")

    recorder = Recorder()
    with FakeLLM(lambda _req, n: script[n - 1]) as server:
        client = _client(server, recorder)
        reply = client.structured(task="t", prompt_version="v", system="s", user="u", output=Answer, check=only_known)
        assert "not in the taxonomy" in server.requests[1]["messages"][-1]["content"]
    assert reply.value.label == "billing"


def test_json_schema_refused_falls_back_to_json_object_with_the_schema_in_the_prompt() -> None:
    def responder(request: dict[str, Any], _n: int) -> Reply:
        if request["response_format"]["type"] == "json_schema":
            return error(400, "response_format json_schema is not supported")
        return completion(GOOD)

    recorder = Recorder()
    with FakeLLM(responder) as server:
        client = _client(server, recorder)
        first, second = _ask(client), _ask(client)
        formats = [r["response_format"]["type"] for r in server.requests]
        schema_in_prompt = server.requests[1]["messages"][0]["content"]
    assert first.response_format == second.response_format == "json_object"
    assert formats == ["json_schema", "json_object", "json_object"]  # refused once, then not asked again
    assert json.dumps(Answer.model_json_schema()["properties"]["label"]["type"]) in schema_in_prompt


def test_circuit_breaker_opens_then_lets_a_trial_through_after_the_cooldown() -> None:
    now = [0.0]
    recorder = Recorder()
    failing = [True]

    def responder(_req: dict[str, Any], _n: int) -> Reply:
        return error(500) if failing[0] else completion(GOOD)

    with FakeLLM(responder) as server:
        config = LLMConfig(model="f", base_url=server.base_url, max_attempts=1, breaker_threshold=2,
                           breaker_cooldown_s=30, backoff_s=0)  # fmt: skip
        client = LLMClient(config, audit=recorder.audit.append, sleep=recorder.sleeps.append, clock=lambda: now[0])
        for _ in range(2):
            with pytest.raises(LLMUnavailable):
                _ask(client)
        sent = len(server.requests)
        with pytest.raises(LLMUnavailable, match="circuit breaker open"):
            _ask(client)
        assert len(server.requests) == sent  # short-circuited: no request reached the server
        assert client.breaker.state == "open"
        now[0] = 31.0
        failing[0] = False
        assert _ask(client).value.label == "billing"
        assert client.breaker.state == "closed"
    assert recorder.audit[2]["outcome"] == "circuit_open"


def test_audit_records_prompt_response_tokens_and_latency() -> None:
    recorder = Recorder()
    with FakeLLM(lambda _req, _n: completion(GOOD, usage=(321, 12))) as server:
        client = _client(server, recorder)
        client.config.price.input_per_mtok = 1.0
        reply = client.structured(task="classify", prompt_version="abc", system="s", user="the ticket",
                                  output=Answer, ticket_id="T-1", tenant="acme")  # fmt: skip
    row = recorder.audit[0]
    assert (row["task"], row["prompt_version"], row["ticket_id"], row["tenant"]) == ("classify", "abc", "T-1", "acme")
    assert row["prompt"] == "the ticket" and json.loads(row["response"]) == GOOD
    assert (row["tokens_in"], row["tokens_out"]) == (321, 12) and row["latency_ms"] > 0
    assert reply.cost_usd == pytest.approx(321 / 1_000_000)

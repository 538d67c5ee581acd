"""The one LLM client: any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama, llama.cpp).

Every call is structured (a strict JSON schema generated from a pydantic model, falling back to
`json_object` with the schema in the prompt when a server refuses `json_schema`), validated with
pydantic (one repair round with the validation error), retried with tenacity on transient failures
(429 honouring Retry-After, 5xx, timeouts, connection errors) under a per-call deadline, guarded by a
circuit breaker, and audited (prompt, response, tokens, latency). Callers fall back to the local
path on any LLMError, so a failing model never loses a ticket.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import openai
from pydantic import BaseModel, Field, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay

from knowledge.tokens import count_tokens
from tools.retry_after import retry_after_s

T = TypeVar("T", bound=BaseModel)
AuditSink = Callable[[dict[str, Any]], None]


class Price(BaseModel):
    """USD per million tokens."""

    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_per_mtok + tokens_out * self.output_per_mtok) / 1_000_000


class LLMConfig(BaseModel):
    model: str
    base_url: str | None = None
    api_key: str = "not-needed"  # local servers ignore it; the SDK insists on one
    timeout_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=4, ge=1)
    deadline_s: float = Field(default=90.0, gt=0)
    backoff_s: float = Field(default=0.5, ge=0)  # first retry wait; doubles, with jitter
    max_backoff_s: float = Field(default=20.0, ge=0)
    max_concurrency: int = Field(default=4, ge=1)
    context_tokens: int = Field(default=8192, ge=512)
    max_output_tokens: int = Field(default=700, ge=16)
    price: Price = Field(default_factory=Price)
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, ge=0)


class LLMError(RuntimeError):
    """The LLM could not give a usable answer; the caller uses the local path instead."""


class LLMUnavailable(LLMError):
    """Transport failures outlasted the retries or the deadline, or the circuit is open."""


class LLMOutputError(LLMError):
    """The reply was not valid for the schema even after a repair round."""


@dataclass(frozen=True)
class StructuredReply(Generic[T]):
    value: T
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_ms: float
    attempts: int
    response_format: Literal["json_schema", "json_object"]


class CircuitBreaker:
    """Opens after `threshold` consecutive failed calls; after `cooldown_s` one trial call may pass."""

    def __init__(self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half_open" if self._clock() - self._opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        return self.state != "open"

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._opened_at = self._clock()


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the strict subset: every property required, no extra keys,
    no numeric bounds (servers differ on those; pydantic still checks them)."""
    schema = model.model_json_schema()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
            for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "default", "title"):
                node.pop(key, None)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return schema


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, openai.RateLimitError | openai.APITimeoutError | openai.APIConnectionError):
        return True
    return isinstance(error, openai.APIStatusError) and error.status_code >= 500


def _retry_after_s(error: BaseException | None) -> float | None:
    return retry_after_s(error.response.headers) if isinstance(error, openai.APIStatusError) else None


def _schema_refused(error: openai.BadRequestError) -> bool:
    text = str(error).lower()
    return any(word in text for word in ("response_format", "json_schema", "schema"))


class LLMClient:
    def __init__(
        self,
        config: LLMConfig,
        audit: AuditSink | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._audit = audit
        self._sleep = sleep
        self._rng = random.Random(0)
        self.breaker = CircuitBreaker(config.breaker_threshold, config.breaker_cooldown_s, clock)
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._json_schema_ok = True
        self._tools_ok = True
        self._client = openai.OpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            # openai's own Timeout: the SDK's HTTP library (httpx, or httpx2 from openai 3.6x) is its business.
            timeout=openai.Timeout(config.timeout_s, connect=min(5.0, config.timeout_s)),
            max_retries=0,  # tenacity owns retries, so Retry-After, deadline and breaker are one policy
        )

    @property
    def model(self) -> str:
        return self.config.model

    def count(self, text: str) -> int:
        return count_tokens(text)

    # --- public --------------------------------------------------------------------------------
    def structured(
        self,
        *,
        task: str,
        prompt_version: str,
        system: str,
        user: str,
        output: type[T],
        check: Callable[[T], None] | None = None,
        ticket_id: str | None = None,
        tenant: str = "default",
    ) -> StructuredReply[T]:
        """One schema-valid answer; `check` adds rules a schema cannot say (raise ValueError)."""
        if not self.breaker.allow():
            self._record(task, prompt_version, ticket_id, tenant, user, None, "circuit_open", 0, 0, 0.0, 0)
            raise LLMUnavailable("circuit breaker open: the LLM failed repeatedly, using the local path")
        messages: list[dict[str, str]] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        tokens_in = tokens_out = attempts = 0
        started = time.perf_counter()
        last_problem = ""
        for _round in range(2):  # the answer, then one repair round quoting the validation error
            try:
                done, tries = self._complete(messages, output)
            except LLMUnavailable as error:
                self.breaker.record_failure()
                self._record(task, prompt_version, ticket_id, tenant, user, None, f"unavailable: {error}", *_zero())
                raise
            content, usage_in, usage_out = done.content, done.tokens_in, done.tokens_out
            tokens_in, tokens_out, attempts = tokens_in + usage_in, tokens_out + usage_out, attempts + tries
            self.breaker.record_success()
            try:
                if done.truncated:
                    raise ValueError("the reply was cut off at the token limit; answer more briefly")
                value = output.model_validate_json(content)
                if check is not None:
                    check(value)
            except (ValidationError, ValueError) as error:
                last_problem = str(error)[:1500]
                self._record(task, prompt_version, ticket_id, tenant, user, content, f"invalid: {last_problem}",
                             usage_in, usage_out, _ms(started), tries)  # fmt: skip
                messages += [
                    {"role": "assistant", "content": content},
                    {"role": "user", "content": f"That reply was not valid: {last_problem}\n"
                     "Reply again with only a JSON object that follows the schema and the rules."},
                ]  # fmt: skip
                continue
            latency = _ms(started)
            cost = self.config.price.cost(tokens_in, tokens_out)
            self._record(
                task, prompt_version, ticket_id, tenant, user, content, "ok", usage_in, usage_out, latency, tries
            )
            return StructuredReply(value, tokens_in, tokens_out, cost, latency, attempts, done.response_format)
        raise LLMOutputError(f"{task}: no valid reply after a repair round: {last_problem[:300]}")

    def tool_turn(
        self, *, messages: list[dict[str, Any]], tools: list[dict[str, Any]], ticket_id: str | None, tenant: str
    ) -> ToolTurn | None:
        """One chat turn offering `tools`; None when this server does not do tool calls (then callers
        go single-shot). Transport failures raise LLMUnavailable like any call."""
        if not self._tools_ok:
            return None
        if not self.breaker.allow():
            raise LLMUnavailable("circuit breaker open: the LLM failed repeatedly, using the local path")
        started = time.perf_counter()
        retrying = self._retrying()
        try:
            for attempt in retrying:
                with attempt, self._slots:
                    response = self._client.chat.completions.create(
                        model=self.config.model,
                        messages=messages,  # type: ignore[arg-type]
                        tools=tools,  # type: ignore[arg-type]
                        tool_choice="auto",
                        temperature=0,
                        max_tokens=self.config.max_output_tokens,
                    )
        except openai.BadRequestError:
            self._tools_ok = False  # no tool support here: stop offering tools
            return None
        except openai.APIError as error:
            self.breaker.record_failure()
            raise LLMUnavailable(f"{type(error).__name__}: {str(error)[:300]}") from error
        self.breaker.record_success()
        message = response.choices[0].message if response.choices else None
        calls = [
            (call.id, call.function.name, call.function.arguments or "{}")
            for call in (message.tool_calls or [] if message else [])
            if getattr(call, "function", None) is not None
        ]
        usage = _Completion.of(response, messages, "json_object")
        latency = _ms(started)
        asked = json.dumps([call[1:] for call in calls])
        prompt = json.dumps(messages[-1])[:4000]
        self._record(
            "tool_turn", "tools", ticket_id, tenant, prompt, asked, "ok", usage.tokens_in, usage.tokens_out, latency, 1
        )
        cost = self.config.price.cost(usage.tokens_in, usage.tokens_out)
        return ToolTurn(calls=calls, tokens_in=usage.tokens_in, tokens_out=usage.tokens_out, cost_usd=cost)

    # --- transport -----------------------------------------------------------------------------
    def _complete(self, messages: list[dict[str, str]], output: type[BaseModel]) -> tuple[_Completion, int]:
        retrying = self._retrying()
        tries = 0
        try:
            for attempt in retrying:
                with attempt:
                    tries += 1
                    return self._once(messages, output), tries
        except openai.APIError as error:
            raise LLMUnavailable(f"{type(error).__name__}: {str(error)[:300]}") from error
        raise LLMUnavailable("no attempt was made")  # pragma: no cover - tenacity always tries once

    def _retrying(self) -> Retrying:
        """One retry policy for every request: transient errors only, bounded by attempts and deadline."""
        return Retrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(self.config.max_attempts) | stop_after_delay(self.config.deadline_s),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = _retry_after_s(error)
        if retry_after is not None:
            return min(retry_after, self.config.max_backoff_s)
        base = self.config.backoff_s * (2 ** (state.attempt_number - 1))
        return min(self.config.max_backoff_s, base * (0.5 + self._rng.random()))

    def _once(self, messages: list[dict[str, str]], output: type[BaseModel]) -> _Completion:
        schema = strict_schema(output)
        with self._slots:
            if self._json_schema_ok:
                try:
                    response = self._client.chat.completions.create(
                        model=self.config.model,
                        messages=messages,  # type: ignore[arg-type]
                        temperature=0,
                        max_tokens=self.config.max_output_tokens,
                        response_format={
                            "type": "json_schema",
                            "json_schema": {"name": output.__name__, "schema": schema, "strict": True},
                        },
                    )
                    return _Completion.of(response, messages, "json_schema")
                except openai.BadRequestError as error:
                    if not _schema_refused(error):
                        raise
                    self._json_schema_ok = False  # this server does not do json_schema: stop asking
            with_schema = [
                {"role": "system", "content": messages[0]["content"] + "\n\nReply with one JSON object that "
                 f"follows this JSON schema exactly:\n{json.dumps(schema)}"},
                *messages[1:],
            ]  # fmt: skip
            response = self._client.chat.completions.create(
                model=self.config.model,
                messages=with_schema,  # type: ignore[arg-type]
                temperature=0,
                max_tokens=self.config.max_output_tokens,
                response_format={"type": "json_object"},
            )
            return _Completion.of(response, with_schema, "json_object")

    def _record(
        self,
        task: str,
        prompt_version: str,
        ticket_id: str | None,
        tenant: str,
        prompt: str,
        response: str | None,
        outcome: str,
        tokens_in: int,
        tokens_out: int,
        latency_ms: float,
        attempts: int,
    ) -> None:
        if self._audit is None:
            return
        self._audit(
            {
                "task": task,
                "ticket_id": ticket_id,
                "tenant": tenant,
                "model": self.config.model,
                "prompt_version": prompt_version,
                "prompt": prompt,
                "response": response,
                "outcome": outcome,
                "tokens_in": tokens_in,
                "tokens_out": tokens_out,
                "latency_ms": latency_ms,
                "attempts": attempts,
            }
        )


@dataclass(frozen=True)
class ToolTurn:
    calls: list[tuple[str, str, str]]  # (call id, function name, JSON arguments)
    tokens_in: int
    tokens_out: int
    cost_usd: float


@dataclass(frozen=True)
class _Completion:
    content: str
    tokens_in: int
    tokens_out: int
    response_format: Literal["json_schema", "json_object"]
    truncated: bool

    @classmethod
    def of(
        cls, response: Any, messages: list[dict[str, str]], response_format: Literal["json_schema", "json_object"]
    ) -> _Completion:
        content = response.choices[0].message.content or "" if response.choices else ""
        usage = getattr(response, "usage", None)
        if usage is not None and usage.prompt_tokens is not None:
            tokens_in, tokens_out = int(usage.prompt_tokens), int(usage.completion_tokens or 0)
        else:
            # Some servers omit usage; count with tiktoken so budgets and costs stay honest estimates.
            tokens_in, tokens_out = sum(count_tokens(m["content"]) for m in messages), count_tokens(content)
        truncated = bool(response.choices) and response.choices[0].finish_reason == "length"
        return cls(content, tokens_in, tokens_out, response_format, truncated)


def _zero() -> tuple[int, int, float, int]:
    return 0, 0, 0.0, 0


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)

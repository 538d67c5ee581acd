"""The one HTTP sender every helpdesk client uses: retries, rate limits and error text in one place."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from tools.helpdesk.actions import SentRequest
from tools.helpdesk.errors import WriteBackError
from tools.retry_after import retry_after_s

log = logging.getLogger(__name__)

_ERROR_TEXT_CHARS = 500


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response, retry_after_s: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after_s = retry_after_s


class HelpdeskHttp:
    """Sends JSON requests to one helpdesk, retrying what is worth retrying.

    Retried: 429 (waiting what `Retry-After` asks, capped at `max_wait_s`), 5xx, any status in
    `retry_statuses`, timeouts and connection errors (exponential backoff with jitter). Any other 4xx raises
    `WriteBackError` at once. Delivery is at-least-once: a request that timed out after the helpdesk applied
    it is sent again, so a note may rarely appear twice; losing it would be worse.
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str = "helpdesk",
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | None = None,
        timeout_s: float = 15.0,
        max_attempts: int = 5,
        max_wait_s: float = 60.0,
        backoff_s: float = 0.5,
        retry_statuses: frozenset[int] = frozenset(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.name = name
        self.max_attempts = max_attempts
        self.max_wait_s = max_wait_s
        self.retry_statuses = retry_statuses
        self._sleep = sleep
        self._backoff = wait_random_exponential(multiplier=backoff_s, max=max_wait_s)
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Accept": "application/json", **(headers or {})},
            auth=auth,
            timeout=httpx.Timeout(timeout_s),
        )

    def __enter__(self) -> HelpdeskHttp:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def send(self, method: str, path: str, json: Any = None) -> httpx.Response:
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type((_RetryableStatus, httpx.TransportError)),
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        where = f"{method} {path}"
        try:
            return retrying(self._attempt, method, path, json)
        except _RetryableStatus as exc:
            status = exc.response.status_code
            raise WriteBackError(
                f"{self.name} answered {status} on {where} after {self.max_attempts} attempts: "
                f"{_error_text(exc.response)}",
                status=status,
                retryable=True,
            ) from exc
        except httpx.TransportError as exc:
            raise WriteBackError(
                f"{self.name} unreachable on {where} after {self.max_attempts} attempts: {type(exc).__name__}: {exc}",
                retryable=True,
            ) from exc

    def _attempt(self, method: str, path: str, json: Any) -> httpx.Response:
        response = self._client.request(method, path, json=json)
        status = response.status_code
        if status == 429 or status >= 500 or status in self.retry_statuses:
            raise _RetryableStatus(response, retry_after_s(response.headers))
        if status >= 400:
            raise WriteBackError(
                f"{self.name} answered {status} on {method} {path}: {_error_text(response)}", status=status
            )
        return response

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _RetryableStatus) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, self.max_wait_s)
        return self._backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: attempt %d failed (%s); retrying in %.2fs", self.name, state.attempt_number, exc, wait)


class Exchange:
    """The requests of one action: sent through `http`, or only recorded when `http` is None (dry-run)."""

    def __init__(self, base_url: str, http: HelpdeskHttp | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.requests: list[SentRequest] = []

    def send(self, method: str, path: str, json: Any = None) -> httpx.Response | None:
        request = SentRequest(method=method, url=self.base_url + path, json_body=json)
        self.requests.append(request)
        if self.http is None:
            return None
        try:
            response = self.http.send(method, path, json)
        except WriteBackError as exc:
            request.status = exc.status
            raise
        request.status = response.status_code
        return response


def _error_text(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    if len(text) > _ERROR_TEXT_CHARS:
        text = text[:_ERROR_TEXT_CHARS] + "…"
    return text or response.reason_phrase or "(empty body)"

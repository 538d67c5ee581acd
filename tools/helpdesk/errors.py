"""The one error write-back raises, with what the job queue needs to decide whether to try again."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.helpdesk.actions import SentRequest


class WriteBackError(RuntimeError):
    """A write-back that did not happen (or only partly).

    `retryable` is True for rate limits, server errors and network failures that outlasted the in-process
    retries: the queue may run the action again later. A 4xx answer or a configuration problem is not
    retryable: running it again gives the same answer. `requests` lists what this action sent before it
    failed, the failing request last, so the audit log can say how far it got.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        requests: list[SentRequest] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.requests: list[SentRequest] = list(requests or [])

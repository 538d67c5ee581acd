"""Picks the client for an action's source and decides whether it runs live or dry."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from tools.helpdesk.actions import Source, WriteBackAction, WriteBackOutcome
from tools.helpdesk.base import HelpdeskClient
from tools.helpdesk.freshdesk import FreshdeskClient, FreshdeskConfig
from tools.helpdesk.intercom import IntercomClient, IntercomConfig
from tools.helpdesk.jira import JiraClient, JiraConfig
from tools.helpdesk.zendesk import ZendeskClient, ZendeskConfig

_CLIENTS: dict[str, tuple[type[HelpdeskClient[Any]], type[BaseModel]]] = {
    "zendesk": (ZendeskClient, ZendeskConfig),
    "intercom": (IntercomClient, IntercomConfig),
    "jira": (JiraClient, JiraConfig),
    "freshdesk": (FreshdeskClient, FreshdeskConfig),
}


class HelpdeskConfigs(BaseModel):
    """Write-back configuration for every helpdesk, built by the service from its settings."""

    zendesk: ZendeskConfig | None = None
    intercom: IntercomConfig | None = None
    jira: JiraConfig | None = None
    freshdesk: FreshdeskConfig | None = None
    #: Sources whose write-back is live; any other source runs dry.
    writeback: dict[Source, bool] = Field(default_factory=dict)
    timeout_s: float = Field(default=15.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)


def client_for(
    source: Source, configs: HelpdeskConfigs, *, sleep: Callable[[float], None] = time.sleep
) -> tuple[HelpdeskClient[Any] | None, str | None]:
    """The client for `source` and, when it runs dry, why. `generic` has no client.

    Raises `WriteBackError` when write-back is on and the config lacks a setting.
    """
    if source == "generic":
        return None, "generic tickets have no helpdesk to write back to"
    config = getattr(configs, source)
    live = configs.writeback.get(source, False)
    reason = None
    if not live:
        reason = f"{source} write-back is off"
    elif config is None:
        reason = f"{source} write-back is on but {source} is not configured"
    client_cls, config_cls = _CLIENTS[source]
    client = client_cls(
        config or config_cls(),
        dry_run=reason is not None,
        timeout_s=configs.timeout_s,
        max_attempts=configs.max_attempts,
        sleep=sleep,
    )
    return client, reason


def ticket_url(source: str, external_id: str, configs: HelpdeskConfigs) -> str | None:
    """The ticket in its helpdesk's agent UI, for the review page; None for generic tickets or no URL."""
    if source not in _CLIENTS:
        return None
    client_cls, config_cls = _CLIENTS[source]
    config = getattr(configs, source)
    return client_cls(config or config_cls(), dry_run=True).ticket_url(external_id)


def apply_action(
    action: WriteBackAction, configs: HelpdeskConfigs, *, sleep: Callable[[float], None] = time.sleep
) -> WriteBackOutcome:
    """Apply `action` live if its source's write-back is on, else return the dry-run outcome.

    Raises `WriteBackError` for a live write-back that fails or whose config is incomplete; `.retryable`
    tells the queue whether another attempt later can succeed.
    """
    client, reason = client_for(action.source, configs, sleep=sleep)
    if client is None:
        return WriteBackOutcome(
            source=action.source,
            kind=action.kind,
            ticket_id=action.ticket_id,
            external_id=action.external_id,
            dry_run=True,
            reason=reason,
        )
    return client.apply(action).model_copy(update={"reason": reason})

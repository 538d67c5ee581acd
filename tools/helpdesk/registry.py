"""The connectors, one per helpdesk, and what is driven from their list: the settings keys
(config.settings mixes them in), the webhook routes (service.webhooks.routes), which tickets get
write-backs (service.writeback_plan) and the write-back dispatch (which client, live or dry).

Adding a helpdesk is one new module declaring its `CONNECTOR` (see tools.helpdesk.connector), named here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, model_validator

from tools.helpdesk import freshdesk, generic, intercom, jira, zendesk
from tools.helpdesk.actions import WriteBackAction, WriteBackOutcome
from tools.helpdesk.base import HelpdeskClient
from tools.helpdesk.connector import Connector

CONNECTORS: tuple[Connector, ...] = (
    zendesk.CONNECTOR,
    intercom.CONNECTOR,
    jira.CONNECTOR,
    freshdesk.CONNECTOR,
    generic.CONNECTOR,
)
_BY_NAME = {connector.name: connector for connector in CONNECTORS}


def connector(name: str) -> Connector | None:
    return _BY_NAME.get(name)


def names() -> tuple[str, ...]:
    return tuple(_BY_NAME)


def writes_back(source: str) -> bool:
    """Whether tickets from `source` have a helpdesk to write back to (every connector but generic)."""
    found = _BY_NAME.get(source)
    return found is not None and found.client is not None


def links_incidents(source: str) -> bool:
    """Whether `source` has problem/incident links (Zendesk problem tickets, Jira issue links)."""
    found = _BY_NAME.get(source)
    return found is not None and found.client is not None and found.client.links_incidents


def settings_models() -> tuple[type[BaseModel], ...]:
    """Every connector's settings keys, for config.settings.Settings to mix in."""
    return tuple(connector.settings for connector in CONNECTORS)


class HelpdeskConfigs(BaseModel):
    """Write-back configuration for every helpdesk, built from the settings (config.components).

    Constructed as `HelpdeskConfigs(zendesk=ZendeskConfig(...), writeback={"zendesk": True})`: a keyword
    named for a connector is its client config.
    """

    #: Connector name -> its client config (e.g. ZendeskConfig); a connector left out is unconfigured.
    configs: dict[str, BaseModel] = Field(default_factory=dict)
    #: Sources whose write-back is live; any other source runs dry.
    writeback: dict[str, bool] = Field(default_factory=dict)
    timeout_s: float = Field(default=15.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _configs_by_name(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        configs = dict(data.get("configs") or {})
        for name, found in _BY_NAME.items():
            value = data.pop(name, None)
            if value is not None and found.client is not None:
                configs[name] = found.client.config_model.model_validate(value)
        data["configs"] = configs
        return data

    @classmethod
    def from_settings(cls, settings: Any) -> HelpdeskConfigs:
        """From an object carrying every connector's settings keys (config.settings.Settings)."""
        return cls(
            configs={c.name: config for c in CONNECTORS if (config := c.config(settings)) is not None},
            writeback={c.name: c.writeback_on(settings) for c in CONNECTORS if c.client is not None},
            timeout_s=settings.writeback_timeout_s,
            max_attempts=settings.writeback_max_attempts,
        )


def _client(found: Connector, configs: HelpdeskConfigs, **options: Any) -> HelpdeskClient[Any]:
    assert found.client is not None
    return found.client(configs.configs.get(found.name) or found.client.config_model(), **options)


def client_for(
    source: str, configs: HelpdeskConfigs, *, sleep: Callable[[float], None] = time.sleep
) -> tuple[HelpdeskClient[Any] | None, str | None]:
    """The client for `source` and, when it runs dry, why. `generic` has no client.

    Raises `WriteBackError` when write-back is on and the config lacks a setting.
    """
    found = _BY_NAME.get(source)
    if found is None or found.client is None:
        return None, f"{source} tickets have no helpdesk to write back to"
    live = configs.writeback.get(source, False)
    reason = None
    if not live:
        reason = f"{source} write-back is off"
    elif source not in configs.configs:
        reason = f"{source} write-back is on but {source} is not configured"
    client = _client(
        found, configs, dry_run=reason is not None, timeout_s=configs.timeout_s,
        max_attempts=configs.max_attempts, sleep=sleep,
    )  # fmt: skip
    return client, reason


def ticket_url(source: str, external_id: str, configs: HelpdeskConfigs) -> str | None:
    """The ticket in its helpdesk's agent UI, for the review page; None for generic tickets or no URL."""
    found = _BY_NAME.get(source)
    if found is None or found.client is None:
        return None
    return _client(found, configs, dry_run=True).ticket_url(external_id)


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

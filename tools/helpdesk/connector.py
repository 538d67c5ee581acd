"""What one helpdesk is to Caseworker: a connector.

A connector module (tools/helpdesk/<name>.py) declares, in one place, everything the rest of the house
needs to know about that helpdesk: its settings keys (a pydantic model whose fields are mixed into
config.settings.Settings, so `CASEWORKER_<KEY>` sets them), how a webhook from it is authenticated
(`verify`) and read (`parse` into a Delivery carrying our Ticket), and how results are written back to
it (`client`, built from its settings by `config`). tools.helpdesk.registry lists the connectors; the
webhook routes, the settings, the write-back dispatch and the write-back plan all read that list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, SecretStr

from tools.helpdesk.base import HelpdeskClient
from tools.helpdesk.delivery import Delivery


class Verify(Protocol):
    """Raises WebhookRejected (401) unless the request is authentic and fresh; `settings` holds its keys."""

    def __call__(
        self, secret: str, body: bytes, headers: Mapping[str, str], *, settings: Any, now: float, tolerance_s: float
    ) -> None: ...


Parse = Callable[[dict[str, Any], Mapping[str, str]], Delivery]


@dataclass(frozen=True)
class RouteDoc:
    """How `POST /webhooks/<name>` is documented in the OpenAPI schema."""

    summary: str
    description: str
    example: dict[str, Any] | None = None


@dataclass(frozen=True)
class Connector:
    name: str
    #: Its settings keys: a model whose fields (named `<name>_...`) become Settings fields.
    settings: type[BaseModel]
    verify: Verify
    parse: Parse
    route: RouteDoc
    #: The settings key holding the webhook secret; the route answers 404 while it is unset.
    secret_key: str
    #: Write-back: the client, its config model and how its settings build that config. None: nothing to
    #: write back to (the generic source).
    client: type[HelpdeskClient[Any]] | None = None
    client_config: type[BaseModel] | None = None
    config: Callable[[Any], BaseModel] | None = None
    #: The settings key that turns live write-back on (off: dry-run, logged to the audit).
    writeback_key: str | None = None

    @property
    def secret_env(self) -> str:
        return f"CASEWORKER_{self.secret_key.upper()}"

    def secret(self, settings: Any) -> str:
        value: SecretStr | None = getattr(settings, self.secret_key)
        return value.get_secret_value() if value is not None else ""

    def writeback_on(self, settings: Any) -> bool:
        return bool(self.writeback_key and getattr(settings, self.writeback_key))

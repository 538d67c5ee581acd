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
    #: Write-back: the client (its `config_model` is built from the settings by `from_settings`). None:
    #: nothing to write back to (the generic source).
    client: type[HelpdeskClient[Any]] | None = None
    #: The settings key holding the webhook secret (default `<name>_secret`); the route answers 404 while
    #: it is unset. Live write-back is `<name>_writeback` (off: dry-run, logged to the audit).
    secret_field: str | None = None

    @property
    def secret_key(self) -> str:
        return self.secret_field or f"{self.name}_secret"

    @property
    def secret_env(self) -> str:
        return f"CASEWORKER_{self.secret_key.upper()}"

    def config(self, settings: Any) -> BaseModel | None:
        """The write-back client's config, from the settings; None without a client."""
        return self.client.config_model.from_settings(settings) if self.client else None

    def secret(self, settings: Any) -> str:
        value: SecretStr | None = getattr(settings, self.secret_key)
        return value.get_secret_value() if value is not None else ""

    def writeback_on(self, settings: Any) -> bool:
        return self.client is not None and bool(getattr(settings, f"{self.name}_writeback"))

"""What every helpdesk client shares: dry-run versus live, config checks, the outcome."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, BeforeValidator, Field, SecretStr

from tools.helpdesk.actions import Source, WriteBackAction, WriteBackOutcome
from tools.helpdesk.errors import WriteBackError
from tools.helpdesk.http import Exchange, HelpdeskHttp

#: Routing team -> a helpdesk's group id; ids given as JSON numbers are read as text.
GroupIds = dict[str, Annotated[str, BeforeValidator(lambda value: str(value) if isinstance(value, int) else value)]]


class HelpdeskConfig(BaseModel):
    """A write-back client's config, built from the connector's settings keys."""

    #: Write the routing block's assignee (and team, through `group_ids`); off by default.
    assign: bool = False
    #: Routing team -> this helpdesk's group (or team) id, for the assignment.
    group_ids: GroupIds = Field(default_factory=dict)

    def assignee(self, action: WriteBackAction) -> tuple[str | None, str | None]:
        """(the assignee's helpdesk id, the team's group id) to write, each None when off or unmapped."""
        if not self.assign or action.assignment is None:
            return None, None
        team = action.assignment.team
        return action.assignment.helpdesk_id, self.group_ids.get(team) if team else None

    @classmethod
    def from_settings(cls, settings: Any) -> Self:
        raise NotImplementedError


ConfigT = TypeVar("ConfigT", bound=HelpdeskConfig)


class HelpdeskClient(ABC, Generic[ConfigT]):
    """Applies `WriteBackAction`s to one helpdesk.

    In dry-run (the default) it builds the same requests and sends nothing; the outcome lists them with
    status None. Live, a config with a missing setting raises `WriteBackError` naming the variable.
    """

    source: ClassVar[Source]
    config_model: ClassVar[type[HelpdeskConfig]]
    #: Statuses other than 429/5xx worth retrying for this helpdesk.
    retry_statuses: ClassVar[frozenset[int]] = frozenset()
    #: Whether the helpdesk links tickets of one incident (kind=link actions); others skip them.
    links_incidents: ClassVar[bool] = False

    def __init__(
        self,
        config: ConfigT,
        *,
        dry_run: bool = True,
        timeout_s: float = 15.0,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.dry_run = dry_run
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.sleep = sleep
        if not dry_run:
            missing = self.missing_settings()
            if missing:
                verb = "is" if len(missing) == 1 else "are"
                raise WriteBackError(f"{self.source} write-back is on but {' and '.join(missing)} {verb} not set")

    @abstractmethod
    def missing_settings(self) -> list[str]:
        """Environment variables a live write-back needs but whose values are empty."""

    @abstractmethod
    def base_url(self) -> str:
        """The configured base URL, or "" when unknown (dry-run then records paths only)."""

    @abstractmethod
    def agent_path(self, external_id: str) -> str:
        """The path of the ticket in the helpdesk's agent UI, under `agent_base_url()`; the id is quoted."""

    def agent_base_url(self) -> str:
        """Where the agent UI lives; the API's base URL for every helpdesk but Intercom."""
        return self.base_url()

    def ticket_url(self, external_id: str) -> str | None:
        """The link an agent follows to open the ticket in its helpdesk; None when no http(s) URL is set."""
        base = self.agent_base_url().strip().rstrip("/")
        if not external_id or urlsplit(base).scheme not in ("http", "https"):
            return None
        return f"{base}{self.agent_path(quote(external_id, safe=''))}"

    @abstractmethod
    def _auth(self) -> tuple[httpx.Auth | None, dict[str, str]]:
        """httpx auth and extra headers; only called live, with the config complete."""

    @abstractmethod
    def _write(self, action: WriteBackAction, exchange: Exchange) -> None:
        """Send (or record) the action's requests, idempotent ones first so a failure before the
        non-idempotent note leaves nothing that a re-run would duplicate."""

    def apply(self, action: WriteBackAction) -> WriteBackOutcome:
        if action.source != self.source:
            raise ValueError(f"{type(self).__name__} cannot apply a {action.source} action")
        if self.dry_run:
            exchange = Exchange(self.base_url(), None)
            self._write(action, exchange)
        else:
            auth, headers = self._auth()
            http = HelpdeskHttp(
                self.base_url(),
                name=self.source,
                headers=headers,
                auth=auth,
                timeout_s=self.timeout_s,
                max_attempts=self.max_attempts,
                retry_statuses=self.retry_statuses,
                sleep=self.sleep,
            )
            with http:
                exchange = Exchange(self.base_url(), http)
                try:
                    self._write(action, exchange)
                except WriteBackError as exc:
                    exc.requests = list(exchange.requests)
                    raise
        return WriteBackOutcome(
            source=action.source,
            kind=action.kind,
            ticket_id=action.ticket_id,
            external_id=action.external_id,
            dry_run=self.dry_run,
            requests=exchange.requests,
        )


def missing(settings: dict[str, str | SecretStr | None]) -> list[str]:
    """The names in `settings` whose value is None or blank."""
    names = []
    for name, value in settings.items():
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is None or not text.strip():
            names.append(name)
    return names


def secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def numeric_id(value: str) -> int | str:
    """Zendesk and Freshdesk ids are integers in their APIs; anything else goes as given."""
    return int(value) if value.isdigit() else value

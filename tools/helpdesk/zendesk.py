"""Write-back to Zendesk Support: one ticket update carries the comment, tags and custom fields."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, Field, SecretStr

from tools.helpdesk.actions import Source, WriteBackAction
from tools.helpdesk.base import HelpdeskClient, missing, secret
from tools.helpdesk.http import Exchange
from tools.helpdesk.render import to_html


class ZendeskConfig(BaseModel):
    #: e.g. https://acme.zendesk.com
    url: str | None = None
    email: str | None = None
    api_token: SecretStr | None = None
    #: Classification field -> Zendesk custom field id; fields not listed here are only tagged.
    field_ids: dict[str, int] = Field(default_factory=dict)


class ZendeskClient(HelpdeskClient[ZendeskConfig]):
    """`PUT /api/v2/tickets/{id}.json` with a private comment (triage) or a public one (reply), sent as
    `html_body` so paragraphs, line breaks and links survive (a plain `body` loses links' targets).

    Tags go in `additional_tags`, which adds to the ticket's tags; `tags` would replace them. Zendesk
    answers 409 when two updates of one ticket collide; sending the same update again is the fix, so 409 is
    retried like a 5xx.
    """

    source: ClassVar[Source] = "zendesk"
    retry_statuses: ClassVar[frozenset[int]] = frozenset({409})

    def missing_settings(self) -> list[str]:
        return missing(
            {
                "CASEWORKER_ZENDESK_URL": self.config.url,
                "CASEWORKER_ZENDESK_EMAIL": self.config.email,
                "CASEWORKER_ZENDESK_API_TOKEN": self.config.api_token,
            }
        )

    def base_url(self) -> str:
        return self.config.url or ""

    def agent_path(self, external_id: str) -> str:
        return f"/agent/tickets/{external_id}"

    def _auth(self) -> tuple[httpx.Auth | None, dict[str, str]]:
        return httpx.BasicAuth(f"{self.config.email}/token", secret(self.config.api_token)), {}

    def _write(self, action: WriteBackAction, exchange: Exchange) -> None:
        ticket: dict[str, Any] = {}
        text = action.body if action.kind == "reply" else action.note
        if text and text.strip():
            ticket["comment"] = {"html_body": to_html(text), "public": action.kind == "reply"}
        if action.tags:
            ticket["additional_tags"] = list(action.tags)
        custom_fields = [
            {"id": self.config.field_ids[field], "value": value}
            for field, value in action.fields.items()
            if field in self.config.field_ids
        ]
        if custom_fields:
            ticket["custom_fields"] = custom_fields
        if ticket:
            exchange.send("PUT", f"/api/v2/tickets/{quote(action.external_id, safe='')}.json", {"ticket": ticket})

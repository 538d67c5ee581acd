"""Write-back to Freshdesk: tags on the ticket, then a private note (triage) or a reply (reply)."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr

from tools.helpdesk.actions import Source, WriteBackAction
from tools.helpdesk.base import HelpdeskClient, missing, secret
from tools.helpdesk.errors import WriteBackError
from tools.helpdesk.http import Exchange
from tools.helpdesk.render import to_html


class FreshdeskConfig(BaseModel):
    #: e.g. https://acme.freshdesk.com
    url: str | None = None
    api_key: SecretStr | None = None


class FreshdeskClient(HelpdeskClient[FreshdeskConfig]):
    """Tags, then `POST /api/v2/tickets/{id}/notes` (`private: true`) or `POST /api/v2/tickets/{id}/reply`.

    `PUT /api/v2/tickets/{id}` with `tags` replaces the ticket's tags, and Freshdesk has no "add tags" call,
    so live it first reads the ticket (`GET`) and puts back the union, skipping the PUT when every tag is
    already there. A tag an agent adds between the GET and the PUT is lost; the window is one round trip.
    In dry-run the PUT lists only the action's tags, since the ticket's current ones are not read.
    Fields are not written: Freshdesk custom fields are per-account `cf_*` names; tags carry them.
    """

    source: ClassVar[Source] = "freshdesk"

    def missing_settings(self) -> list[str]:
        return missing(
            {"CASEWORKER_FRESHDESK_URL": self.config.url, "CASEWORKER_FRESHDESK_API_KEY": self.config.api_key}
        )

    def base_url(self) -> str:
        return self.config.url or ""

    def agent_path(self, external_id: str) -> str:
        return f"/a/tickets/{external_id}"

    def _auth(self) -> tuple[httpx.Auth | None, dict[str, str]]:
        # Freshdesk takes the API key as the user name; the password is ignored.
        return httpx.BasicAuth(secret(self.config.api_key), "X"), {}

    def _write(self, action: WriteBackAction, exchange: Exchange) -> None:
        ticket = f"/api/v2/tickets/{quote(action.external_id, safe='')}"
        if action.tags:
            current = exchange.send("GET", ticket)
            existing = _tags_of(current) if current is not None else []
            tags = existing + [tag for tag in action.tags if tag not in existing]
            if current is None or len(tags) > len(existing):
                exchange.send("PUT", ticket, {"tags": tags})
        if action.kind == "reply" and action.body and action.body.strip():
            exchange.send("POST", f"{ticket}/reply", {"body": to_html(action.body)})
        elif action.kind == "triage" and action.note and action.note.strip():
            exchange.send("POST", f"{ticket}/notes", {"body": to_html(action.note), "private": True})


def _tags_of(response: httpx.Response) -> list[str]:
    # Guessing "no tags" from an unreadable answer would make the PUT wipe the ticket's tags.
    try:
        payload = response.json()
    except ValueError:
        payload = None
    tags = payload.get("tags", []) if isinstance(payload, dict) else None
    if not isinstance(tags, list):
        raise WriteBackError(f"freshdesk ticket has no readable tags list: {response.text[:200]}")
    return [str(tag) for tag in tags]

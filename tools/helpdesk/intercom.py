"""Write-back to Intercom: an admin note (triage) or an admin reply (reply) on the conversation."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr

from tools.helpdesk.actions import Source, WriteBackAction
from tools.helpdesk.base import HelpdeskClient, missing, secret
from tools.helpdesk.http import Exchange
from tools.helpdesk.render import to_html


class IntercomConfig(BaseModel):
    url: str = "https://api.intercom.io"
    access_token: SecretStr | None = None
    #: The admin the notes and replies are posted as.
    admin_id: str | None = None
    api_version: str = "2.11"
    #: The workspace id in the inbox's URLs (app.intercom.com/a/apps/<app_id>); links need it.
    app_id: str | None = None
    #: The inbox's host, which differs from the API's (https://app.eu.intercom.com for the EU region).
    app_url: str = "https://app.intercom.com"


class IntercomClient(HelpdeskClient[IntercomConfig]):
    """`POST /conversations/{id}/reply` as an admin: `message_type` "note" for triage, "comment" for a reply.

    Tags and fields are not written: tagging a conversation takes a tag id, so each tag would first need a
    `POST /tags` to create or find it, two more requests per tag. The service's note already states the
    classification, so a triage action carrying only tags or fields sends nothing to Intercom.
    """

    source: ClassVar[Source] = "intercom"

    def missing_settings(self) -> list[str]:
        return missing(
            {
                "CASEWORKER_INTERCOM_URL": self.config.url,
                "CASEWORKER_INTERCOM_ACCESS_TOKEN": self.config.access_token,
                "CASEWORKER_INTERCOM_ADMIN_ID": self.config.admin_id,
            }
        )

    def base_url(self) -> str:
        return self.config.url

    def agent_base_url(self) -> str:
        return self.config.app_url if self.config.app_id else ""

    def agent_path(self, external_id: str) -> str:
        return f"/a/apps/{quote(self.config.app_id or '', safe='')}/inbox/inbox/all/conversations/{external_id}"

    def _auth(self) -> tuple[httpx.Auth | None, dict[str, str]]:
        return None, {
            "Authorization": f"Bearer {secret(self.config.access_token)}",
            "Intercom-Version": self.config.api_version,
        }

    def _write(self, action: WriteBackAction, exchange: Exchange) -> None:
        text = action.body if action.kind == "reply" else action.note
        if not (text and text.strip()):
            return
        exchange.send(
            "POST",
            f"/conversations/{quote(action.external_id, safe='')}/reply",
            {
                "message_type": "comment" if action.kind == "reply" else "note",
                "type": "admin",
                "admin_id": self.config.admin_id or "",
                "body": to_html(text),
            },
        )

"""Write-back to Jira Service Management: labels on the issue, then a comment on the customer request."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr

from tools.helpdesk.actions import Source, WriteBackAction
from tools.helpdesk.base import HelpdeskClient, missing, secret
from tools.helpdesk.http import Exchange
from tools.helpdesk.render import to_plain


class JiraConfig(BaseModel):
    #: e.g. https://acme.atlassian.net
    url: str | None = None
    email: str | None = None
    api_token: SecretStr | None = None


class JiraClient(HelpdeskClient[JiraConfig]):
    """Labels through `PUT /rest/api/3/issue/{key}` with `update.labels` "add" operations, which keep the
    issue's other labels and are idempotent, so they go first; then `POST
    /rest/servicedeskapi/request/{key}/comment`, internal (`public: false`) for triage, public for a reply.
    That endpoint takes the comment as a plain string (not ADF), so the text goes as it is.
    Fields are not written: Jira custom field ids and option shapes differ per site; tags carry them.
    """

    source: ClassVar[Source] = "jira"

    def missing_settings(self) -> list[str]:
        return missing(
            {
                "CASEWORKER_JIRA_URL": self.config.url,
                "CASEWORKER_JIRA_EMAIL": self.config.email,
                "CASEWORKER_JIRA_API_TOKEN": self.config.api_token,
            }
        )

    def base_url(self) -> str:
        return self.config.url or ""

    def agent_path(self, external_id: str) -> str:
        return f"/browse/{external_id}"

    def _auth(self) -> tuple[httpx.Auth | None, dict[str, str]]:
        return httpx.BasicAuth(self.config.email or "", secret(self.config.api_token)), {}

    def _write(self, action: WriteBackAction, exchange: Exchange) -> None:
        key = quote(action.external_id, safe="")
        if action.tags:
            exchange.send(
                "PUT", f"/rest/api/3/issue/{key}", {"update": {"labels": [{"add": tag} for tag in action.tags]}}
            )
        text = action.body if action.kind == "reply" else action.note
        if text and text.strip():
            exchange.send(
                "POST",
                f"/rest/servicedeskapi/request/{key}/comment",
                {"body": to_plain(text), "public": action.kind == "reply"},
            )

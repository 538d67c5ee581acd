"""Plain text as each helpdesk channel takes it: escaped HTML for Zendesk, Intercom and Freshdesk, text as
it is for Jira, checked on the payloads the clients send to a real HTTP server. (The renderer is imported
inside its own tests so the payload tests also run, and fail, on code without it.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from tests.fake_helpdesk import FakeHelpdesk
from tools.helpdesk.actions import Source, WriteBackAction
from tools.helpdesk.freshdesk import FreshdeskClient, FreshdeskConfig
from tools.helpdesk.intercom import IntercomClient, IntercomConfig
from tools.helpdesk.jira import JiraClient, JiraConfig
from tools.helpdesk.zendesk import ZendeskClient, ZendeskConfig

REPLY = (
    'Hi Ana,\n\nThe page said <script>alert("x")</script> & more.\n'
    "1. Open Settings.\n2. See the guide (https://help.example.com/a?b=1&c=2).\n\nBest regards,\nThe Support Team"
)
REPLY_HTML = (
    "<p>Hi Ana,</p>"
    "<p>The page said &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more.<br>"
    "1. Open Settings.<br>"
    '2. See the guide (<a href="https://help.example.com/a?b=1&amp;c=2">https://help.example.com/a?b=1&amp;c=2</a>).</p>'
    "<p>Best regards,<br>The Support Team</p>"
)


def test_to_html_escapes_and_keeps_paragraphs_lines_and_links() -> None:
    from tools.helpdesk.render import to_html

    assert to_html(REPLY) == REPLY_HTML


def test_a_url_cannot_break_out_of_its_attribute() -> None:
    from tools.helpdesk.render import to_html

    html = to_html('see https://x.example/"onmouseover="alert(1) now')
    assert '"onmouseover' not in html and '<a href="https://x.example/">' in html


def test_to_plain_normalises_line_endings() -> None:
    from tools.helpdesk.render import to_plain

    assert to_plain("  a\r\nb\rc  ") == "a\nb\nc"


@pytest.fixture
def helpdesk() -> Iterator[FakeHelpdesk]:
    with FakeHelpdesk() as fake:
        yield fake


def reply(source: Source) -> WriteBackAction:
    return WriteBackAction(
        kind="reply", source=source, tenant="acme", ticket_id=f"{source}:7", external_id="7", body=REPLY
    )


def test_zendesk_sends_escaped_html_body(helpdesk: FakeHelpdesk) -> None:
    config = ZendeskConfig(url=helpdesk.url, email="a@acme.test", api_token=SecretStr("t"))
    ZendeskClient(config, dry_run=False).apply(reply("zendesk"))
    [call] = helpdesk.calls
    assert call.json == {"ticket": {"comment": {"html_body": REPLY_HTML, "public": True}}}


def test_intercom_sends_escaped_html_body(helpdesk: FakeHelpdesk) -> None:
    config = IntercomConfig(url=helpdesk.url, access_token=SecretStr("t"), admin_id="1")
    IntercomClient(config, dry_run=False).apply(reply("intercom"))
    [call] = helpdesk.calls
    assert call.json["body"] == REPLY_HTML and call.json["message_type"] == "comment"


def test_freshdesk_sends_escaped_html_body(helpdesk: FakeHelpdesk) -> None:
    config = FreshdeskConfig(url=helpdesk.url, api_key=SecretStr("t"))
    FreshdeskClient(config, dry_run=False).apply(reply("freshdesk"))
    [call] = helpdesk.calls
    assert call.path == "/api/v2/tickets/7/reply" and call.json == {"body": REPLY_HTML}


def test_jira_sends_the_text_as_it_is(helpdesk: FakeHelpdesk) -> None:
    # The service-desk comment endpoint takes a plain string; HTML would show up as literal tags.
    config = JiraConfig(url=helpdesk.url, email="a@acme.test", api_token=SecretStr("t"))
    JiraClient(config, dry_run=False).apply(reply("jira"))
    [call] = helpdesk.calls
    assert call.json == {"body": REPLY, "public": True}

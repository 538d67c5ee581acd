"""Write-back to the four helpdesks, against a real HTTP server standing in for each API."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from tests.fake_helpdesk import FakeHelpdesk
from tools.helpdesk.actions import Source, WriteBackAction, triage_tags
from tools.helpdesk.base import HelpdeskClient
from tools.helpdesk.errors import WriteBackError
from tools.helpdesk.freshdesk import FreshdeskClient, FreshdeskConfig
from tools.helpdesk.http import HelpdeskHttp
from tools.helpdesk.intercom import IntercomClient, IntercomConfig
from tools.helpdesk.jira import JiraClient, JiraConfig
from tools.helpdesk.registry import HelpdeskConfigs, apply_action
from tools.helpdesk.zendesk import ZendeskClient, ZendeskConfig

NOTE = "Caseworker triage: billing / P2.\n\nSee KB-12 <refunds>."
TAGS = ["caseworker_category__billing", "caseworker_priority__p2"]


class SleepRecorder:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def helpdesk() -> Iterator[FakeHelpdesk]:
    with FakeHelpdesk() as fake:
        yield fake


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


def action(source: Source, kind: str = "triage", external_id: str = "35436", **overrides: Any) -> WriteBackAction:
    data: dict[str, Any] = {
        "kind": kind,
        "source": source,
        "tenant": "acme",
        "ticket_id": f"{source}:{external_id}",
        "external_id": external_id,
    }
    if kind == "triage":
        data.update(note=NOTE, tags=TAGS, fields={"category": "billing", "priority": "P2"})
    else:
        data.update(body="Hello,\nplease try again.")
    data.update(overrides)
    return WriteBackAction.model_validate(data)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def zendesk(url: str, sleeps: SleepRecorder, dry_run: bool = False, **options: Any) -> ZendeskClient:
    config = ZendeskConfig(
        url=url, email="agent@acme.test", api_token=SecretStr("zd-token"), field_ids={"category": 360001}
    )
    return ZendeskClient(config, dry_run=dry_run, sleep=sleeps, **options)


def intercom(url: str, sleeps: SleepRecorder, dry_run: bool = False) -> IntercomClient:
    config = IntercomConfig(url=url, access_token=SecretStr("ic-token"), admin_id="814860")
    return IntercomClient(config, dry_run=dry_run, sleep=sleeps)


def jira(url: str, sleeps: SleepRecorder, dry_run: bool = False) -> JiraClient:
    config = JiraConfig(url=url, email="agent@acme.test", api_token=SecretStr("jira-token"))
    return JiraClient(config, dry_run=dry_run, sleep=sleeps)


def freshdesk(url: str, sleeps: SleepRecorder, dry_run: bool = False) -> FreshdeskClient:
    return FreshdeskClient(FreshdeskConfig(url=url, api_key=SecretStr("fd-key")), dry_run=dry_run, sleep=sleeps)


# --- the action and its tags ---------------------------------------------------------------------------


def test_triage_tags_are_lowercase_and_safe_for_zendesk() -> None:
    tags = triage_tags({"category": "Billing Issue", "Priority": "P2", "sub-type": "Réfund/Card", "queue": " "})
    assert tags == ["caseworker_category__billing_issue", "caseworker_priority__p2", "caseworker_sub_type__r_fund_card"]
    assert all(" " not in tag for tag in tags)


def test_action_round_trips_through_json_and_rejects_an_empty_reply() -> None:
    original = action("zendesk")
    assert WriteBackAction.model_validate_json(original.model_dump_json()) == original
    with pytest.raises(ValidationError, match="non-empty body"):
        action("zendesk", kind="reply", body="  ")
    with pytest.raises(ValidationError, match="note, tags or fields"):
        action("jira", note=None, tags=[], fields={})


# --- request shapes, per helpdesk ---------------------------------------------------------------------------


def test_zendesk_triage_is_one_update_with_private_comment_tags_and_fields(
    helpdesk: FakeHelpdesk, sleeps: SleepRecorder
) -> None:
    outcome = zendesk(helpdesk.url, sleeps).apply(action("zendesk"))

    [call] = helpdesk.calls
    assert (call.method, call.path) == ("PUT", "/api/v2/tickets/35436.json")
    assert call.headers["authorization"] == basic("agent@acme.test/token", "zd-token")
    assert call.json == {
        "ticket": {
            # HTML, escaped: the note's "<refunds>" stays text
            "comment": {
                "html_body": "<p>Caseworker triage: billing / P2.</p><p>See KB-12 &lt;refunds&gt;.</p>",
                "public": False,
            },
            "additional_tags": TAGS,
            # priority has no Zendesk field id configured, so only its tag carries it
            "custom_fields": [{"id": 360001, "value": "billing"}],
        }
    }
    assert not outcome.dry_run
    assert [(r.method, r.url, r.status) for r in outcome.requests] == [
        ("PUT", f"{helpdesk.url}/api/v2/tickets/35436.json", 200)
    ]
    assert "zd-token" not in outcome.model_dump_json()


def test_zendesk_reply_is_a_public_comment(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    zendesk(helpdesk.url, sleeps).apply(action("zendesk", kind="reply"))
    [call] = helpdesk.calls
    assert call.path == "/api/v2/tickets/35436.json"
    assert call.json == {"ticket": {"comment": {"html_body": "<p>Hello,<br>please try again.</p>", "public": True}}}


def test_intercom_triage_is_an_admin_note_and_reply_an_admin_comment(
    helpdesk: FakeHelpdesk, sleeps: SleepRecorder
) -> None:
    client = intercom(helpdesk.url, sleeps)
    client.apply(action("intercom", external_id="1911149811"))
    client.apply(action("intercom", kind="reply", external_id="1911149811"))

    note, reply = helpdesk.calls
    for call in (note, reply):
        assert (call.method, call.path) == ("POST", "/conversations/1911149811/reply")
        assert call.headers["authorization"] == "Bearer ic-token"
        assert call.headers["intercom-version"] == "2.11"
    assert note.json == {
        "message_type": "note",
        "type": "admin",
        "admin_id": "814860",
        # Intercom bodies are HTML: paragraphs kept, markup in the text escaped
        "body": "<p>Caseworker triage: billing / P2.</p><p>See KB-12 &lt;refunds&gt;.</p>",
    }
    assert reply.json == {
        "message_type": "comment",
        "type": "admin",
        "admin_id": "814860",
        "body": "<p>Hello,<br>please try again.</p>",
    }


def test_intercom_sends_nothing_for_tags_alone(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    outcome = intercom(helpdesk.url, sleeps).apply(action("intercom", note=None))
    assert outcome.requests == []
    assert helpdesk.calls == []


def test_jira_adds_labels_then_an_internal_comment(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    jira(helpdesk.url, sleeps).apply(action("jira", external_id="SUP-42"))

    labels, comment = helpdesk.calls
    assert (labels.method, labels.path) == ("PUT", "/rest/api/3/issue/SUP-42")
    assert labels.json == {"update": {"labels": [{"add": tag} for tag in TAGS]}}
    assert (comment.method, comment.path) == ("POST", "/rest/servicedeskapi/request/SUP-42/comment")
    assert comment.json == {"body": NOTE, "public": False}
    for call in (labels, comment):
        assert call.headers["authorization"] == basic("agent@acme.test", "jira-token")


def test_jira_reply_is_a_public_comment(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    jira(helpdesk.url, sleeps).apply(action("jira", kind="reply", external_id="SUP-42"))
    [call] = helpdesk.calls
    assert call.path == "/rest/servicedeskapi/request/SUP-42/comment"
    assert call.json == {"body": "Hello,\nplease try again.", "public": True}


def test_freshdesk_keeps_existing_tags_then_adds_a_private_note(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    helpdesk.respond("GET", "/api/v2/tickets/77", {"id": 77, "tags": ["vip", TAGS[0]]})
    outcome = freshdesk(helpdesk.url, sleeps).apply(action("freshdesk", external_id="77"))

    read, update, note = helpdesk.calls
    assert (read.method, read.path) == ("GET", "/api/v2/tickets/77")
    assert (update.method, update.path) == ("PUT", "/api/v2/tickets/77")
    assert update.json == {"tags": ["vip", *TAGS]}
    assert (note.method, note.path) == ("POST", "/api/v2/tickets/77/notes")
    assert note.json == {
        "body": "<p>Caseworker triage: billing / P2.</p><p>See KB-12 &lt;refunds&gt;.</p>",
        "private": True,
    }
    assert all(call.headers["authorization"] == basic("fd-key", "X") for call in helpdesk.calls)
    assert [r.status for r in outcome.requests] == [200, 200, 201]


def test_freshdesk_skips_the_tag_update_when_every_tag_is_there(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    helpdesk.respond("GET", "/api/v2/tickets/77", {"id": 77, "tags": TAGS})
    freshdesk(helpdesk.url, sleeps).apply(action("freshdesk", external_id="77"))
    assert [(c.method, c.path) for c in helpdesk.calls] == [
        ("GET", "/api/v2/tickets/77"),
        ("POST", "/api/v2/tickets/77/notes"),
    ]


def test_freshdesk_reply(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    freshdesk(helpdesk.url, sleeps).apply(action("freshdesk", kind="reply", external_id="77"))
    [call] = helpdesk.calls
    assert (call.method, call.path) == ("POST", "/api/v2/tickets/77/reply")
    assert call.json == {"body": "<p>Hello,<br>please try again.</p>"}


def test_external_ids_are_escaped_into_one_path_segment(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    zendesk(helpdesk.url, sleeps).apply(action("zendesk", external_id="1/../2"))
    assert helpdesk.calls[0].path == "/api/v2/tickets/1%2F..%2F2.json"


# --- retries and errors ----------------------------------------------------------------------------------------


def test_429_is_retried_after_the_wait_retry_after_asks(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    helpdesk.fail_next(429, n=2, retry_after=7)
    outcome = zendesk(helpdesk.url, sleeps).apply(action("zendesk"))

    assert sleeps.waits == [7.0, 7.0]
    assert [c.status for c in helpdesk.calls] == [429, 429, 200]
    assert outcome.requests[0].status == 200


def test_retry_after_is_capped(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    helpdesk.fail_next(429, n=1, retry_after=3600)
    with HelpdeskHttp(helpdesk.url, max_wait_s=60, sleep=sleeps) as http:
        assert http.send("GET", "/ping").status_code == 200
    assert sleeps.waits == [60]


def test_5xx_is_retried_with_backoff_then_succeeds(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    helpdesk.fail_next(500, n=1)
    helpdesk.fail_next(503, n=1)
    outcome = jira(helpdesk.url, sleeps).apply(action("jira", kind="reply", external_id="SUP-1"))

    assert [c.status for c in helpdesk.calls] == [500, 503, 201]
    assert len(sleeps.waits) == 2
    assert all(0 <= wait <= 60 for wait in sleeps.waits)
    assert outcome.requests[0].status == 201


def test_zendesk_retries_an_update_conflict(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    helpdesk.fail_next(409, n=1)
    zendesk(helpdesk.url, sleeps).apply(action("zendesk"))
    assert [c.status for c in helpdesk.calls] == [409, 200]


def test_400_fails_at_once_naming_status_and_the_helpdesk_text(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    helpdesk.fail_next(400, n=1, body={"error": "RecordInvalid", "description": "Record validation errors"})
    with pytest.raises(WriteBackError) as caught:
        zendesk(helpdesk.url, sleeps).apply(action("zendesk"))

    error = caught.value
    assert error.status == 400
    assert not error.retryable
    assert "400" in str(error)
    assert "Record validation errors" in str(error)
    assert len(helpdesk.calls) == 1
    assert sleeps.waits == []
    assert [r.status for r in error.requests] == [400]


def test_a_failure_part_way_reports_what_was_already_sent(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    client = jira(helpdesk.url, sleeps)
    client.apply(action("jira", kind="reply", external_id="SUP-9"))  # one call, to line up the failure below
    helpdesk.clear()
    helpdesk.respond("POST", "/rest/servicedeskapi/request/SUP-9/comment", {"errorMessages": ["nope"]}, status=403)

    with pytest.raises(WriteBackError) as caught:
        client.apply(action("jira", external_id="SUP-9"))
    assert [(r.method, r.status) for r in caught.value.requests] == [("PUT", 200), ("POST", 403)]
    assert "nope" in str(caught.value)


def test_5xx_that_outlasts_the_attempts_is_a_retryable_error(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    helpdesk.fail_next(502, n=10)
    with pytest.raises(WriteBackError) as caught:
        zendesk(helpdesk.url, sleeps, max_attempts=3).apply(action("zendesk"))
    assert caught.value.retryable
    assert caught.value.status == 502
    assert len(helpdesk.calls) == 3
    assert len(sleeps.waits) == 2


def test_timeouts_are_retried(sleeps: SleepRecorder) -> None:
    # A listening socket that never accepts: the connection opens, the answer never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        host, port = silent.getsockname()
        http = HelpdeskHttp(f"http://{host}:{port}", timeout_s=0.2, max_attempts=2, sleep=sleeps)
        with http, pytest.raises(WriteBackError, match="ReadTimeout") as caught:
            http.send("PUT", "/api/v2/tickets/1.json", {"ticket": {}})
    assert caught.value.retryable
    assert len(sleeps.waits) == 1


def test_connection_errors_are_retried(sleeps: SleepRecorder) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        host, port = closed.getsockname()
    http = HelpdeskHttp(f"http://{host}:{port}", max_attempts=3, sleep=sleeps)
    with http, pytest.raises(WriteBackError, match="unreachable") as caught:
        http.send("GET", "/")
    assert caught.value.retryable
    assert len(sleeps.waits) == 2


# --- dry-run ---------------------------------------------------------------------------------------------------

CLIENTS = {"zendesk": zendesk, "intercom": intercom, "jira": jira, "freshdesk": freshdesk}


@pytest.mark.parametrize("source", list(CLIENTS))
@pytest.mark.parametrize("kind", ["triage", "reply"])
def test_dry_run_sends_nothing_but_lists_the_live_requests(
    helpdesk: FakeHelpdesk, sleeps: SleepRecorder, source: Source, kind: str
) -> None:
    make = CLIENTS[source]
    dry: HelpdeskClient[Any] = make(helpdesk.url, sleeps, dry_run=True)
    planned = dry.apply(action(source, kind=kind))
    assert helpdesk.calls == []
    assert planned.dry_run
    assert planned.requests
    assert all(r.status is None for r in planned.requests)

    live = make(helpdesk.url, sleeps).apply(action(source, kind=kind))
    assert [(r.method, r.url, r.json_body) for r in planned.requests] == [
        (r.method, r.url, r.json_body) for r in live.requests
    ]


def test_clients_are_dry_run_by_default() -> None:
    assert ZendeskClient(ZendeskConfig()).dry_run


# --- registry --------------------------------------------------------------------------------------------------


def full_configs(url: str, **writeback: bool) -> HelpdeskConfigs:
    return HelpdeskConfigs(
        zendesk=ZendeskConfig(url=url, email="agent@acme.test", api_token=SecretStr("zd-token")),
        intercom=IntercomConfig(url=url, access_token=SecretStr("ic-token"), admin_id="1"),
        jira=JiraConfig(url=url, email="agent@acme.test", api_token=SecretStr("jira-token")),
        freshdesk=FreshdeskConfig(url=url, api_key=SecretStr("fd-key")),
        writeback=writeback,
    )


def test_registry_runs_dry_when_writeback_is_off(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    outcome = apply_action(action("zendesk"), full_configs(helpdesk.url), sleep=sleeps)
    assert outcome.dry_run
    assert outcome.reason == "zendesk write-back is off"
    assert outcome.requests[0].url == f"{helpdesk.url}/api/v2/tickets/35436.json"
    assert helpdesk.calls == []


def test_registry_sends_when_writeback_is_on(helpdesk: FakeHelpdesk, sleeps: SleepRecorder) -> None:
    configs = full_configs(helpdesk.url, jira=True)
    outcome = apply_action(action("jira", external_id="SUP-3"), configs, sleep=sleeps)
    assert not outcome.dry_run
    assert outcome.reason is None
    assert [c.path for c in helpdesk.calls] == ["/rest/api/3/issue/SUP-3", "/rest/servicedeskapi/request/SUP-3/comment"]
    # only the source that is switched on goes live
    assert apply_action(action("zendesk"), configs, sleep=sleeps).dry_run


def test_registry_runs_dry_without_config_or_for_generic() -> None:
    unconfigured = apply_action(action("freshdesk"), HelpdeskConfigs(writeback={"freshdesk": True}))
    assert unconfigured.dry_run
    assert unconfigured.requests[-1].url == "/api/v2/tickets/35436/notes"

    generic = apply_action(action("generic"), HelpdeskConfigs(writeback={"generic": True}))
    assert generic.dry_run
    assert generic.requests == []
    assert generic.reason


def test_registry_names_the_missing_setting_when_writeback_is_on() -> None:
    configs = HelpdeskConfigs(zendesk=ZendeskConfig(email="agent@acme.test"), writeback={"zendesk": True})
    with pytest.raises(WriteBackError, match="zendesk write-back is on but CASEWORKER_ZENDESK_URL") as caught:
        apply_action(action("zendesk"), configs)
    assert "CASEWORKER_ZENDESK_API_TOKEN" in str(caught.value)
    assert not caught.value.retryable

    blank_admin = HelpdeskConfigs(
        intercom=IntercomConfig(access_token=SecretStr("t"), admin_id=" "), writeback={"intercom": True}
    )
    with pytest.raises(WriteBackError, match="CASEWORKER_INTERCOM_ADMIN_ID"):
        apply_action(action("intercom"), blank_admin)


# --- the fake itself, which other tests reuse ---------------------------------------------------------------


def test_fake_helpdesk_wait_for_returns_the_calls_or_says_what_came(helpdesk: FakeHelpdesk) -> None:
    threading.Timer(0.05, lambda: httpx.post(f"{helpdesk.url}/hook?x=1", json={"a": 1})).start()
    [call] = helpdesk.wait_for(lambda calls: any(c.path == "/hook" for c in calls), timeout=5)
    assert (call.method, call.query, call.json, call.status) == ("POST", "x=1", {"a": 1}, 201)
    with pytest.raises(TimeoutError, match="POST /hook -> 201"):
        helpdesk.wait_for(lambda calls: len(calls) > 1, timeout=0.05)

"""Assignee write-back: the routing block's suggestion, in each helpdesk's own ids, against a real HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from agent.schemas import Routing, RoutingCandidate, RoutingParts, TriageResult
from config.settings import Settings
from knowledge.history import History
from knowledge.roster import Agent, Roster
from knowledge.schemas import Ticket
from service.writeback_plan import assignment, review_assignment_writeback
from tests.fake_helpdesk import FakeHelpdesk
from tools.helpdesk.actions import Assignment, WriteBackAction
from tools.helpdesk.freshdesk import FreshdeskClient, FreshdeskConfig
from tools.helpdesk.intercom import IntercomClient, IntercomConfig
from tools.helpdesk.jira import JiraClient, JiraConfig
from tools.helpdesk.registry import HelpdeskConfigs
from tools.helpdesk.zendesk import ZendeskClient, ZendeskConfig

ASSIGN = {"assign": True, "group_ids": {"billing": "360002"}}


@pytest.fixture
def helpdesk() -> Iterator[FakeHelpdesk]:
    with FakeHelpdesk() as fake:
        yield fake


def action(
    source: str, helpdesk_id: str | None = "101", team: str | None = "billing", **extra: object
) -> WriteBackAction:
    return WriteBackAction.model_validate(
        {
            "kind": "triage",
            "source": source,
            "tenant": "acme",
            "ticket_id": f"{source}:7",
            "external_id": "7",
            "note": "Caseworker triage",
            "assignment": {"agent_id": "alice", "helpdesk_id": helpdesk_id, "team": team},
            **extra,
        }
    )


def test_zendesk_sets_assignee_and_group_in_the_one_ticket_update(helpdesk: FakeHelpdesk) -> None:
    config = ZendeskConfig(url=helpdesk.url, email="a@acme.test", api_token=SecretStr("t"), **ASSIGN)
    ZendeskClient(config, dry_run=False).apply(action("zendesk"))
    (call,) = helpdesk.calls
    assert (call.method, call.path) == ("PUT", "/api/v2/tickets/7.json")
    assert call.json["ticket"]["assignee_id"] == 101 and call.json["ticket"]["group_id"] == 360002
    assert call.json["ticket"]["comment"]["public"] is False


def test_freshdesk_sets_responder_and_group_without_a_tag_read(helpdesk: FakeHelpdesk) -> None:
    config = FreshdeskConfig(url=helpdesk.url, api_key=SecretStr("k"), **ASSIGN)
    FreshdeskClient(config, dry_run=False).apply(action("freshdesk", helpdesk_id="43001"))
    put, note = helpdesk.calls
    assert (put.method, put.path, put.json) == ("PUT", "/api/v2/tickets/7", {"responder_id": 43001, "group_id": 360002})
    assert (note.method, note.path) == ("POST", "/api/v2/tickets/7/notes")


def test_freshdesk_puts_tags_and_assignment_together(helpdesk: FakeHelpdesk) -> None:
    helpdesk.respond("GET", "/api/v2/tickets/7", {"tags": ["vip"]})
    config = FreshdeskConfig(url=helpdesk.url, api_key=SecretStr("k"), assign=True)
    FreshdeskClient(config, dry_run=False).apply(action("freshdesk", tags=["caseworker_category__billing"]))
    put = next(c for c in helpdesk.calls if c.method == "PUT")
    assert put.json == {"tags": ["vip", "caseworker_category__billing"], "responder_id": 101}


def test_jira_assigns_by_account_id_before_the_comment(helpdesk: FakeHelpdesk) -> None:
    config = JiraConfig(url=helpdesk.url, email="a@acme.test", api_token=SecretStr("t"), assign=True)
    JiraClient(config, dry_run=False).apply(action("jira", helpdesk_id="5b10ac8d82e05b22cc7d4ef5"))
    assign, comment = helpdesk.calls
    assert (assign.method, assign.path) == ("PUT", "/rest/api/3/issue/7/assignee")
    assert assign.json == {"accountId": "5b10ac8d82e05b22cc7d4ef5"}
    assert comment.path == "/rest/servicedeskapi/request/7/comment"


def test_intercom_assigns_admin_and_team_as_assignment_parts(helpdesk: FakeHelpdesk) -> None:
    config = IntercomConfig(url=helpdesk.url, access_token=SecretStr("t"), admin_id="814860", **ASSIGN)
    IntercomClient(config, dry_run=False).apply(action("intercom", helpdesk_id="530165"))
    admin, team, note = helpdesk.calls
    assert admin.path == team.path == "/conversations/7/parts"
    assert admin.json == {"message_type": "assignment", "type": "admin", "admin_id": "814860", "assignee_id": "530165"}
    assert team.json == {"message_type": "assignment", "type": "team", "admin_id": "814860", "assignee_id": "360002"}
    assert note.path == "/conversations/7/reply" and note.json["message_type"] == "note"


@pytest.mark.parametrize(
    ("client", "config"),
    [
        (ZendeskClient, ZendeskConfig(email="a@acme.test", api_token=SecretStr("t"))),
        (FreshdeskClient, FreshdeskConfig(api_key=SecretStr("k"))),
        (JiraClient, JiraConfig(email="a@acme.test", api_token=SecretStr("t"))),
        (IntercomClient, IntercomConfig(access_token=SecretStr("t"), admin_id="1")),
    ],
)
def test_assignment_is_opt_in_and_an_unmapped_team_is_left_out(
    helpdesk: FakeHelpdesk, client: type, config: ZendeskConfig
) -> None:
    config = config.model_copy(update={"url": helpdesk.url})
    client(config, dry_run=False).apply(action(client.source))
    sent = [c.json for c in helpdesk.calls if c.json is not None]
    assert not any(key in str(body) for body in sent for key in ("assignee", "responder_id", "group_id"))
    helpdesk.clear()
    on = config.model_copy(update={"assign": True})
    client(on, dry_run=False).apply(action(client.source, helpdesk_id=None, team="nobody-maps-this"))
    sent = [c.json for c in helpdesk.calls if c.json is not None]
    assert not any(key in str(body) for body in sent for key in ("assignee", "responder_id", "group_id"))


def test_settings_opt_in_per_helpdesk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEWORKER_ZENDESK_ASSIGN", "true")
    monkeypatch.setenv("CASEWORKER_ZENDESK_GROUP_IDS", '{"billing": 360002}')
    configs = HelpdeskConfigs.from_settings(Settings())
    assert configs.configs["zendesk"].assign and configs.configs["zendesk"].group_ids == {"billing": "360002"}  # type: ignore[attr-defined]
    assert not configs.configs["jira"].assign  # type: ignore[attr-defined]


def _candidate(agent_id: str) -> RoutingCandidate:
    parts = RoutingParts(skill_match=0.9, recent_speed=0.5, open_tickets=1, on_shift=True)
    return RoutingCandidate(agent_id=agent_id, name=agent_id.title(), score=0.8, parts=parts, reason="fits")


def test_the_plan_maps_the_suggested_assignee_through_the_roster(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    Roster(history).upsert(
        [Agent(id="alice", tenant="acme", name="Alice", helpdesk_ids={"zendesk": "101", "jira": "acc-a"})]
    )
    routing = Routing(team="billing", assignee=_candidate("alice"), alternatives=[_candidate("bob")])
    result = TriageResult.model_construct(tenant="acme", routing=routing)
    roster = Roster(history)
    assert assignment(result, "zendesk", roster) == Assignment(agent_id="alice", helpdesk_id="101", team="billing")
    assert assignment(result, "freshdesk", roster) == Assignment(agent_id="alice", helpdesk_id=None, team="billing")
    other_tenant = TriageResult.model_construct(tenant="other", routing=routing)
    assert assignment(other_tenant, "zendesk", roster) == Assignment(agent_id="alice", team="billing")
    assert assignment(TriageResult.model_construct(tenant="acme", routing=None), "zendesk", roster) is None


def test_a_reviewer_pick_is_planned_in_the_helpdesks_id_with_a_team_the_pick_works(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    Roster(history).upsert(
        [
            Agent(id="dave", tenant="acme", name="Dave", helpdesk_ids={"zendesk": "104"}, teams=["accounts"]),
            Agent(id="erin", tenant="acme", name="Erin", helpdesk_ids={"zendesk": "105"}, teams=["billing"]),
        ]
    )
    roster = Roster(history)
    routing = Routing(team="billing", assignee=_candidate("alice"), alternatives=[])
    result = TriageResult.model_construct(tenant="acme", routing=routing)
    extra = {"source": "zendesk", "external_id": "7"}
    ticket = Ticket(id="zendesk:7", tenant="acme", subject="s", body="b", extra=extra)

    def planned(pick: str, assigns: frozenset[str] = frozenset({"zendesk"})) -> Assignment | None:
        job = review_assignment_writeback(ticket, result, pick, "r-1", roster, assigns)
        return WriteBackAction.model_validate_json(job.payload).assignment if job else None

    # Another team's agent goes with their own team (a helpdesk refuses an assignee outside the group).
    assert planned("dave") == Assignment(agent_id="dave", helpdesk_id="104", team="accounts")
    assert planned("erin") == Assignment(agent_id="erin", helpdesk_id="105", team="billing")
    assert planned("alice") is None  # the suggestion: the triage write-back assigned alice already
    assert planned("dave", frozenset({"jira"})) is None  # Zendesk did not opt in
    generic = ticket.model_copy(update={"extra": {"source": "generic", "external_id": "7"}})
    assert review_assignment_writeback(generic, result, "dave", "r-1", roster, {"generic"}) is None
    with pytest.raises(ValueError, match="an assign action needs an assignment"):
        WriteBackAction(kind="assign", source="zendesk", tenant="acme", ticket_id="zendesk:7", external_id="7")

"""One connector per helpdesk, one registry: the routes, the settings and the write-back follow its list."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config.settings import Settings
from knowledge.roster import HELPDESKS
from knowledge.schemas import Ticket
from service.webhooks.routes import EnqueueOutcome, webhook_router
from service.writeback_plan import helpdesk_of
from tools.helpdesk.delivery import Delivery
from tools.helpdesk.registry import CONNECTORS, HelpdeskConfigs, names, writes_back


def _unused(delivery: Delivery) -> EnqueueOutcome:
    raise AssertionError("nothing is enqueued here")


def test_every_connector_has_its_route_and_nothing_else_does() -> None:
    app = FastAPI()
    app.include_router(webhook_router(Settings(), _unused))
    paths = {path for path in app.openapi()["paths"] if path.startswith("/webhooks/")}
    assert paths == {f"/webhooks/{name}" for name in names()}
    with TestClient(app) as client:
        for connector in CONNECTORS:
            answer = client.post(f"/webhooks/{connector.name}", json={})
            assert answer.status_code == 404
            assert connector.secret_env in answer.json()["detail"]


def test_each_connectors_keys_are_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for connector in CONNECTORS:
        assert connector.secret_key in Settings.model_fields
        for key in connector.settings.model_fields:
            assert key in Settings.model_fields, f"{connector.name}: {key} is not a setting"
    monkeypatch.setenv("CASEWORKER_JIRA_SECRET", "j")
    monkeypatch.setenv("CASEWORKER_ZENDESK_FIELD_IDS", '{"category": 7}')
    monkeypatch.setenv("CASEWORKER_FRESHDESK_WRITEBACK", "true")
    settings = Settings()
    assert [c.name for c in CONNECTORS if c.secret(settings)] == ["jira"]
    configs = HelpdeskConfigs.from_settings(settings)
    assert configs.configs["zendesk"].field_ids == {"category": 7}  # type: ignore[attr-defined]
    assert configs.writeback == {"zendesk": False, "intercom": False, "jira": False, "freshdesk": True}


def test_the_write_back_plan_and_the_roster_know_the_same_helpdesks() -> None:
    writing = [name for name in names() if writes_back(name)]
    # knowledge/ sits below tools/ and cannot import the registry: its list must match the connectors'.
    assert sorted(writing) == sorted(HELPDESKS)
    for name in names():
        ticket = Ticket(id="t1", subject="s", body="b", extra={"source": name, "external_id": "9"})
        assert (helpdesk_of(ticket) is not None) == writes_back(name)
    assert (
        helpdesk_of(Ticket(id="t1", subject="s", body="b", extra={"source": "servicenow", "external_id": "9"})) is None
    )

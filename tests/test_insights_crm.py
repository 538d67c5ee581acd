"""The accounts-at-risk list sent to a CRM: over the real app (POST /api/insights/accounts/notify) and the CLI
(`caseworker insights accounts --notify`), signed like our generic webhook, a 500 retried by the job queue,
each tenant's list its own; and the Jira link write-back reads before it posts, so a retried job links once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from caseworker.cli import app
from service.worker import Worker
from tests.fake_helpdesk import FakeHelpdesk
from tests.signed_webhooks import AUTH, post, runtime_of, service, trained_data_dir
from tools.helpdesk.actions import IncidentLink, WriteBackAction
from tools.helpdesk.generic import verify
from tools.helpdesk.jira import JiraClient, JiraConfig

CRM_SECRET = "crm-secret"


class Receiver:
    """Records every POST on 127.0.0.1; the first one answers 500."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = 500 if not calls else 200
                calls.append((dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/crm"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[TestClient]:
    settings = {"crm_webhook_urls": [receiver.url], "crm_webhook_secret": CRM_SECRET, "job_retry_base_s": 0}
    with service(trained_data_dir(tmp_path_factory.mktemp("crm")), **settings) as test_client:
        yield test_client


def drain(client: TestClient) -> int:
    return Worker(runtime_of(client), threading.Event()).run_until_idle()


def test_the_accounts_list_reaches_the_crm_signed_after_a_retry_and_per_tenant(
    client: TestClient, receiver: Receiver
) -> None:
    for i in range(4):  # one account of acme writes again and again; globex has a quiet one
        ticket = {"id": f"a{i}", "tenant": "acme", "subject": "Still broken", "body": f"Export fails again ({i})",
                  "customer": {"id": "acct-acme", "mrr": 3000.0}}  # fmt: skip
        assert post(client, "generic", ticket).status_code == 202
    quiet = {"id": "q1", "tenant": "globex", "subject": "Hi", "body": "A question", "customer": {"id": "acct-globex"}}
    assert post(client, "generic", quiet).status_code == 202
    drain(client)
    assert client.post("/api/insights/accounts/notify", params={"tenant": "acme"}).status_code == 401
    assert client.post("/api/insights/accounts/notify", params={"days": 0}, headers=AUTH).status_code == 422
    sent = client.post("/api/insights/accounts/notify", params={"tenant": "acme"}, headers=AUTH)
    assert sent.status_code == 200 and sent.json()["notices_queued"] == 1 and sent.json()["accounts"] >= 1
    drain(client)
    assert [c[2] for c in receiver.calls] == [500, 200]
    (first, _, _), (headers, raw, _) = receiver.calls
    verify(CRM_SECRET, raw, headers, now=time.time(), tolerance_s=300)  # raises when forged
    assert first["X-Caseworker-Delivery"] == headers["X-Caseworker-Delivery"]  # the same delivery, retried
    body = json.loads(raw)
    assert body["event"] == "accounts.at_risk" and body["tenant"] == "acme"
    [account] = [a for a in body["accounts"] if a["customer_id"] == "acct-acme"]
    assert {"a0", "a1", "a2", "a3"} <= set(account["ticket_ids"]) and account["reasons"]
    assert all(a["tenant"] == "acme" for a in body["accounts"])
    other = client.post("/api/insights/accounts/notify", params={"tenant": "globex"}, headers=AUTH)
    assert other.status_code == 200
    drain(client)
    globex = json.loads(receiver.calls[-1][1])
    assert globex["tenant"] == "globex" and "acct-acme" not in receiver.calls[-1][1].decode()
    history = runtime_of(client).components.history
    audit = history.query("SELECT detail FROM audit WHERE event = 'accounts_notified'", ())
    hosts = {json.loads(r["detail"])["host"] for r in audit}
    assert len(audit) == 2 and hosts == {receiver.url.removesuffix("/crm")}  # the host only, never the path


def test_the_cli_queues_the_list_and_says_when_no_crm_is_configured(tmp_path: Path) -> None:
    runner = CliRunner()
    data = str(tmp_path / "data")
    missing = runner.invoke(app, ["insights", "accounts", "--notify", "--data-dir", data], env={"COLUMNS": "200"})
    assert missing.exit_code == 2 and "CASEWORKER_CRM_WEBHOOK_URLS" in missing.output
    env = {"COLUMNS": "200", "CASEWORKER_CRM_WEBHOOK_URLS": '["http://127.0.0.1:9/crm"]',
           "CASEWORKER_CRM_WEBHOOK_SECRET": CRM_SECRET}  # fmt: skip
    queued = runner.invoke(app, ["insights", "accounts", "--notify", "--tenant", "acme", "--data-dir", data], env=env)
    assert queued.exit_code == 0, queued.output
    assert "queued 0 account(s) for 1 CRM webhook(s)" in queued.output


def test_a_jira_link_that_exists_already_is_not_posted_again() -> None:
    action = WriteBackAction(kind="link", source="jira", tenant="acme", ticket_id="jira:OPS-2", external_id="OPS-2",
                             link=IncidentLink(incident_id="inc-1", anchor_external_id="OPS-1"))  # fmt: skip
    with FakeHelpdesk() as fake:
        client = JiraClient(JiraConfig(url=fake.url, email="bot@x.test", api_token="t"), dry_run=False)  # type: ignore[arg-type]
        fake.respond("GET", "/rest/api/3/issue/OPS-2", {"fields": {"issuelinks": [{"outwardIssue": {"key": "OPS-1"}}]}})
        client.apply(action)
        assert [c.method for c in fake.calls] == ["GET"]
        fake.clear()
        client.apply(action)  # nothing linked yet: one POST
        assert [(c.method, c.path) for c in fake.calls] == [("GET", "/rest/api/3/issue/OPS-2"),
                                                             ("POST", "/rest/api/3/issueLink")]  # fmt: skip

"""The review page in a real browser: a signed Zendesk webhook reaches the real app (uvicorn on 127.0.0.1, a
worker thread inside it), the draft waits for review, an agent signs in, edits the draft and approves it in
headless Chromium, and the edited reply reaches a fake Zendesk as a public comment."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import ConsoleMessage, expect, sync_playwright

from caseworker.settings import Settings
from caseworker.workspace import Workspace
from service.app import create_app
from tests.fake_helpdesk import Call, FakeHelpdesk
from tests.zendesk_delivery import signed_zendesk_trigger

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET = "zendesk-secret"
TOKEN = "browser-review-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ZENDESK_ID = "4501"
TICKET_ID = f"zendesk:{ZENDESK_ID}"
# Two intents in one ticket: the policy wants a human (draft_for_review), as in tests/test_service.py.
SUBJECT = "Invoice and login"
BODY = "I need the invoice but I can't log in, the password reset email is missing."
EDITED = "Hi Ada,\n\nHere is a fresh password reset link, and your invoice is attached.\n\nSam"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium to run"),
]


class LiveServer:
    """The app under uvicorn in a thread, on a free port of 127.0.0.1; lifespan (worker threads) included."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=90)


@pytest.fixture
def helpdesk() -> Iterator[FakeHelpdesk]:
    with FakeHelpdesk() as fake:
        yield fake


@pytest.fixture
def live(trained_workspace: Workspace, helpdesk: FakeHelpdesk, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    env = {
        "CASEWORKER_DATA_DIR": str(trained_workspace.settings.data_dir),
        "CASEWORKER_API_TOKEN": TOKEN,
        "CASEWORKER_ZENDESK_SECRET": SECRET,
        "CASEWORKER_ZENDESK_WRITEBACK": "true",
        "CASEWORKER_ZENDESK_URL": helpdesk.url,
        "CASEWORKER_ZENDESK_EMAIL": "bot@example.com",
        "CASEWORKER_ZENDESK_API_TOKEN": "zd-token",
        "CASEWORKER_WORKER_POLL_S": "0.1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    trained_workspace.history.close()
    with LiveServer(create_app(Settings(), workers=1)) as server:
        yield server


def post_zendesk(base: str, invocation: str) -> dict[str, Any]:
    raw, headers = signed_zendesk_trigger(SECRET, ZENDESK_ID, SUBJECT, BODY, invocation)
    response = httpx.post(f"{base}/webhooks/zendesk", content=raw, headers=headers, timeout=30)
    assert response.status_code in (200, 202), response.text
    return response.json()


def wait_for_review(base: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = httpx.get(f"{base}/api/reviews", headers=AUTH, timeout=30).json()["items"]
        if items:
            return items[0]
        time.sleep(0.2)
    raise TimeoutError(f"no review appeared within {timeout}s")


def is_script_error(message: ConsoleMessage) -> bool:
    return message.type == "error" and not message.text.startswith("Failed to load resource")


def is_public_reply(call: Call) -> bool:
    comment = ((call.json or {}).get("ticket") or {}).get("comment") or {}
    return call.method == "PUT" and comment.get("public") is True


def test_agent_edits_and_approves_a_draft_in_the_browser(live: LiveServer, helpdesk: FakeHelpdesk) -> None:
    base = live.url
    assert post_zendesk(base, "inv-browser-1")["status"] == "queued"
    item = wait_for_review(base)
    assert item["ticket_id"] == TICKET_ID
    review_id = item["id"]
    # The worker's internal note (suggested reply, tags) went out before the review.
    helpdesk.wait_for(lambda calls: any(c.method == "PUT" for c in calls), timeout=30)
    assert not any(is_public_reply(c) for c in helpdesk.calls)

    outside: list[str] = []
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(30_000)
            page.on("request", lambda r: None if r.url.startswith((base, "data:")) else outside.append(r.url))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            # Script errors; failed loads are caught above (by URL) except the browser's own favicon probe.
            page.on("console", lambda m: problems.append(m.text) if is_script_error(m) else None)

            page.goto(f"{base}/review")
            page.wait_for_url(f"{base}/review/login")  # no cookie yet: the page sends us to sign in
            page.fill("#token", TOKEN)
            page.click("#login")
            page.wait_for_url(f"{base}/review")
            assert "token" not in page.evaluate("document.cookie")  # HttpOnly: the script never sees it

            entry = page.locator(f'li[data-review-id="{review_id}"]')
            expect(entry).to_contain_text(SUBJECT)
            entry.click()
            expect(entry).to_have_attribute("aria-selected", "true")
            expect(page.locator("#ticket-subject")).to_have_text(SUBJECT)
            expect(page.locator("#ticket-body")).to_contain_text("password reset email is missing")
            expect(page.locator("#decision")).to_contain_text("draft for review")
            expect(page.locator("#classification tbody tr[data-field]")).not_to_have_count(0)
            draft = page.locator("#draft")
            expect(draft).not_to_have_value("")
            generated = draft.input_value()

            # Correct one label: pick a priority other than the predicted one.
            priority = page.locator("#label-priority")
            predicted = priority.input_value()
            corrected = next(level for level in ("P3", "P2", "P1") if level != predicted)
            priority.select_option(corrected)

            draft.fill(EDITED)
            expect(page.locator("#draft-state")).to_contain_text("Edited")
            page.click("#approve")
            expect(page.locator("#status")).to_contain_text("Approved — reply queued for the helpdesk")
            expect(entry).to_have_count(0)  # the item left the queue
            expect(page.locator("#queue-empty")).to_be_visible()
        finally:
            browser.close()

    assert generated != EDITED
    assert outside == [], f"the page reached beyond the app: {outside}"
    assert problems == [], problems

    replies = helpdesk.wait_for(lambda calls: any(is_public_reply(c) for c in calls), timeout=60)
    reply = next(c for c in replies if is_public_reply(c))
    assert reply.path == f"/api/v2/tickets/{ZENDESK_ID}.json"
    assert reply.json["ticket"]["comment"] == {
        "html_body": "<p>Hi Ada,</p><p>Here is a fresh password reset link, and your invoice is attached.</p>"
        "<p>Sam</p>",
        "public": True,
    }

    again = httpx.post(f"{base}/api/reviews/{review_id}/approve", headers=AUTH, json={}, timeout=30)
    assert again.status_code == 409, again.text
    assert "already edited" in again.json()["detail"]

    history = live.app.state.runtime.workspace.history
    events = [row for row in history.audit_rows(TICKET_ID) if row["event"] == "review"]
    assert len(events) == 1
    assert events[0]["detail"]["outcome"] == "edited"
    assert events[0]["detail"]["reply"] == EDITED
    assert events[0]["detail"]["corrected"] == {"priority": corrected}

"""The review page in a real browser: a signed Zendesk webhook reaches the real app (uvicorn on 127.0.0.1, a
worker thread inside it), the draft waits for review, an agent signs in, edits the draft and approves it in
headless Chromium, and the edited reply reaches a fake Zendesk as a public comment. A page on another port
of the same host cannot act with the session cookie, and sign-out ends the session."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import ConsoleMessage, Page, expect, sync_playwright

from config.components import Components
from config.settings import Settings
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
def undo_s() -> str:
    """The approval's undo window: short, so the approved reply goes out within the test."""
    return "2"


@pytest.fixture
def live(
    trained_workspace: Components, helpdesk: FakeHelpdesk, monkeypatch: pytest.MonkeyPatch, undo_s: str
) -> Iterator[LiveServer]:
    env = {
        "CASEWORKER_DATA_DIR": str(trained_workspace.settings.data_dir),
        "CASEWORKER_API_TOKEN": TOKEN,
        "CASEWORKER_ZENDESK_SECRET": SECRET,
        "CASEWORKER_ZENDESK_WRITEBACK": "true",
        "CASEWORKER_ZENDESK_URL": helpdesk.url,
        "CASEWORKER_ZENDESK_EMAIL": "bot@example.com",
        "CASEWORKER_ZENDESK_API_TOKEN": "zd-token",
        "CASEWORKER_WORKER_POLL_S": "0.1",
        "CASEWORKER_REVIEW_UNDO_S": undo_s,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    trained_workspace.history.close()
    with LiveServer(create_app(Settings(), workers=1)) as server:
        yield server


def post_zendesk(
    base: str, invocation: str, zendesk_id: str = ZENDESK_ID, subject: str = SUBJECT, body: str = BODY
) -> dict[str, Any]:
    raw, headers = signed_zendesk_trigger(SECRET, zendesk_id, subject, body, invocation)
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
            expect(page.locator("#status")).to_contain_text("Approved — the reply goes to the helpdesk")
            countdown = page.locator(f'.undo-entry[data-review-id="{review_id}"]')
            expect(countdown).to_contain_text("Sending in")
            expect(entry).to_have_count(0)  # the item left the queue
            expect(page.locator("#queue-empty")).to_be_visible()
            expect(countdown).to_contain_text("Sent to the helpdesk", timeout=30_000)  # the 2 s window passed
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

    history = live.app.state.runtime.components.history
    events = [row for row in history.audit_rows(TICKET_ID) if row["event"] == "review"]
    assert len(events) == 1
    assert events[0]["detail"]["outcome"] == "edited"
    assert events[0]["detail"]["reply"] == EDITED
    assert events[0]["detail"]["corrected"] == {"priority": corrected}


@dataclass
class Session:
    """A signed-in page and what it did that a test should fail on."""

    page: Page
    problems: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


@contextmanager
def signed_in(base: str, viewport: dict[str, int] | None = None) -> Iterator[Session]:
    """Headless Chromium signed in to the review page; fails the test on script errors or requests elsewhere."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=viewport or {"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(30_000)
            session = Session(page)
            page.on("request", lambda r: None if r.url.startswith((base, "data:")) else session.outside.append(r.url))
            page.on("pageerror", lambda e: session.problems.append(f"page error: {e}"))
            page.on("dialog", lambda d: (session.problems.append(f"dialog: {d.message}"), d.dismiss()))
            page.on("console", lambda m: session.problems.append(m.text) if is_script_error(m) else None)
            page.goto(f"{base}/review/login")
            page.fill("#token", TOKEN)
            page.click("#login")
            page.wait_for_url(f"{base}/review")
            yield session
        finally:
            browser.close()
    assert session.outside == [], f"the page reached beyond the app: {session.outside}"
    assert session.problems == [], session.problems


@pytest.mark.parametrize("undo_s", ["300"])  # long enough that the test always cancels inside the window
def test_approving_with_a_counts_down_and_undo_cancels_the_reply(live: LiveServer, helpdesk: FakeHelpdesk) -> None:
    base = live.url
    post_zendesk(base, "inv-browser-undo")
    review_id = wait_for_review(base)["id"]
    runtime = live.app.state.runtime
    with signed_in(base) as session:
        page = session.page
        entry = page.locator(f'li[data-review-id="{review_id}"]')
        entry.click()
        expect(page.locator("#ticket-subject")).to_have_text(SUBJECT)
        page.fill("#draft", EDITED)
        page.keyboard.press("Escape")  # leave the draft: the list item has the focus again
        expect(entry).to_be_focused()
        page.keyboard.press("a")  # the single keypress that used to send at once
        countdown = page.locator(f'.undo-entry[data-review-id="{review_id}"] .undo-count')
        expect(countdown).to_have_text(re.compile(r"Sending in \d+ s"))
        first = countdown.inner_text()
        expect(countdown).not_to_have_text(first)  # it counts down
        scheduled = runtime.reviews.get(review_id)
        assert scheduled.state == "scheduled"
        assert runtime.queue.get(scheduled.undo_job_id).state == "queued"

        page.click(f'.undo-entry[data-review-id="{review_id}"] .undo-cancel')
        expect(page.locator("#status")).to_contain_text("Approval undone — nothing was sent")
        expect(entry).to_have_attribute("aria-selected", "true")  # back in the queue, open again
        expect(page.locator("#draft")).to_have_value(EDITED)  # with the agent's edits
        expect(page.locator(".undo-entry")).to_have_count(0)

    reopened = runtime.reviews.get(review_id)
    assert reopened.state == "pending"
    assert runtime.queue.get(scheduled.undo_job_id).state == "cancelled"
    assert [e["event"] for e in runtime.components.history.audit_rows(TICKET_ID)].count("review_undone") == 1
    assert not any(is_public_reply(c) for c in helpdesk.calls)


class AttackerPage:
    """Another web app on the same host, another port: the browser treats it as same-site, so it attaches
    the SameSite=Strict review cookie to whatever that page makes it send."""

    def __init__(self, html: str) -> None:
        body = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AttackerPage:
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def forged_approval(action: str) -> str:
    # A text/plain form is what a page can send cross-origin without a CORS preflight; the field name and
    # value join into a JSON-looking body.
    return f"""<!doctype html><html><body><form id="f" method="post" action="{action}" enctype="text/plain">
<input type="hidden" name='{{"reply": "Refund sent to account 99", "x": "' value='"}}'></form>
<script>document.getElementById("f").submit();</script></body></html>"""


def test_a_page_on_another_port_cannot_act_with_the_cookie_and_sign_out_works(live: LiveServer) -> None:
    base = live.url
    post_zendesk(base, "inv-browser-2")
    review_id = wait_for_review(base)["id"]
    with AttackerPage(forged_approval(f"{base}/api/reviews/{review_id}/approve")) as attacker, sync_playwright() as p:
        assert attacker.url.startswith("http://127.0.0.1:") and not attacker.url.startswith(base)
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{base}/review/login")
            page.fill("#token", TOKEN)
            page.click("#login")
            page.wait_for_url(f"{base}/review")

            with page.expect_response(lambda r: r.url.endswith("/approve")) as forged:
                page.goto(attacker.url)
            response = forged.value
            sent = response.request.all_headers()
            assert "caseworker_token=" in sent.get("cookie", "")  # same-site: the browser did attach the cookie
            assert sent.get("origin") == attacker.url.rstrip("/")
            assert response.status == 403
            assert "cross-origin request refused" in response.text()
            assert state_of(base, review_id) == "pending"

            page.goto(f"{base}/review")
            expect(page.locator(f'li[data-review-id="{review_id}"]')).to_be_visible()  # still signed in
            page.click("#sign-out")
            page.wait_for_url(f"{base}/review/login")
            assert page.evaluate("fetch('/api/reviews').then((r) => r.status)") == 401
            page.goto(f"{base}/review")
            page.wait_for_url(f"{base}/review/login")  # the page sends us to sign in again
        finally:
            browser.close()


def state_of(base: str, review_id: str) -> str:
    return httpx.get(f"{base}/api/reviews/{review_id}", headers=AUTH, timeout=30).json()["review"]["state"]

"""The review page's other views in a real browser against the real app (see tests/test_review_browser.py):
the escalations tab and its actions, hostile ticket text shown as plain clean text, and a phone-sized
(390×844) layout with no horizontal overflow and the decision buttons in reach."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.fake_helpdesk import FakeHelpdesk
from tests.test_review_browser import (
    AUTH,
    CHROMIUM,
    LiveServer,
    helpdesk,  # noqa: F401 - fixture
    live,  # noqa: F401 - fixture
    post_zendesk,
    signed_in,
    undo_s,  # noqa: F401 - fixture
    wait_for_review,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium to run"),
]

OUTAGE = ("Site is down", "Nobody in our company can load the dashboard, 502 errors everywhere since 9am.")
MIXED_BODY = "I need the invoice but I can't log in, the password reset email is missing."
HOSTILE_SUBJECT = "Invoice \u202efdp.exe\u202c and login\u200b"
HOSTILE_BODY = (
    f"<p>{MIXED_BODY}</p><script>window.__pwned = 1</script>"
    '<img src="x" onerror="window.__pwned = 2"><div>Thanks &amp; regards</div>'
)
PHONE = {"width": 390, "height": 844}


def wait_for_escalation(base: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = httpx.get(f"{base}/api/escalations", headers=AUTH, timeout=30).json()["items"]
        if items:
            return items[0]
        time.sleep(0.2)
    raise TimeoutError(f"no escalation appeared within {timeout}s")


def no_horizontal_overflow(page: Page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide at a {PHONE['width']}px viewport"


def test_escalations_tab_shows_and_acknowledges_and_assigns(live: LiveServer) -> None:  # noqa: F811
    base = live.url
    post_zendesk(base, "inv-outage", zendesk_id="4601", subject=OUTAGE[0], body=OUTAGE[1])
    escalation = wait_for_escalation(base)
    with signed_in(base) as session:
        page = session.page
        expect(page.locator("#tab-escalations-count")).to_have_text("1")
        page.click("#tab-escalations")
        expect(page.locator("#view-escalations")).to_be_visible()
        expect(page.locator("#view-reviews")).to_be_hidden()
        card = page.locator(f'li[data-escalation-id="{escalation["id"]}"]')
        expect(card).to_contain_text("p0 incident")
        expect(card.locator(".prio")).to_have_text("P0")
        expect(card.locator(".due")).to_have_text(re.compile(r"due in|overdue"))
        expect(card.locator(".esc-summary")).to_contain_text(OUTAGE[0])
        expect(card).to_contain_text(escalation["suggested_team"])
        card.locator(".esc-packet summary").click()
        expect(card.locator(".esc-packet pre")).to_be_visible()

        page.keyboard.press("a")  # the review shortcut does nothing here
        card.locator(".esc-ack").click()
        expect(page.locator("#status")).to_contain_text("Reviewer field")  # who acts must be named
        page.fill("#reviewer", "sam")
        card.locator(".esc-ack").click()
        expect(card.locator(".esc-state")).to_contain_text("acknowledged by sam")
        card.locator(".assign-group input").fill("Site reliability")
        card.locator(".esc-assign").click()
        expect(card.locator(".esc-state")).to_contain_text("assigned to Site reliability by sam")
        expect(page.locator("#tab-escalations-count")).to_have_text("0")

    stored = live.app.state.runtime.escalations.get(escalation["id"])
    assert (stored.state, stored.acknowledged_by, stored.assignee, stored.version) == (
        "acknowledged",
        "sam",
        "Site reliability",
        3,
    )


def test_hostile_ticket_text_is_shown_as_clean_text(live: LiveServer) -> None:  # noqa: F811
    base = live.url
    post_zendesk(base, "inv-hostile", zendesk_id="4602", subject=HOSTILE_SUBJECT, body=HOSTILE_BODY)
    review = wait_for_review(base)
    # The drafting step marks a draft no source supports (draft.grounded false, with a note); the page must say so.
    history = live.app.state.runtime.components.history
    with history.transaction() as conn:
        conn.execute(
            "UPDATE results SET data = json_set(data, '$.draft.grounded', json('false'), '$.draft.grounding_note', ?) "
            "WHERE seq = ?",
            ("No KB article covers invoices for locked accounts.", review["result_seq"]),
        )
    with signed_in(base) as session:
        page = session.page
        page.locator(f'li[data-review-id="{review["id"]}"]').click()
        expect(page.locator("#grounding")).to_have_text("No grounded answer")
        expect(page.locator("#grounding-note")).to_have_text("No KB article covers invoices for locked accounts.")
        expect(page.locator("#ticket-subject")).to_have_text("Invoice fdp.exe and login")
        expect(page.locator("#ticket-subject")).to_have_attribute("dir", "auto")
        body = page.locator("#ticket-body")
        expect(body).to_have_text(f"{MIXED_BODY}\nThanks & regards")
        assert body.locator("img, script").count() == 0
        assert page.evaluate("window.__pwned") is None  # neither the script nor the onerror ran
        assert "\u202e" not in page.locator(".queue-list .subject").first.inner_text()


def test_the_page_is_usable_on_a_phone(live: LiveServer, helpdesk: FakeHelpdesk, tmp_path: Path) -> None:  # noqa: F811
    base = live.url
    post_zendesk(base, "inv-phone")
    post_zendesk(base, "inv-phone-outage", zendesk_id="4603", subject=OUTAGE[0], body=OUTAGE[1])
    review = wait_for_review(base)
    wait_for_escalation(base)
    with signed_in(base, viewport=PHONE) as session:
        page = session.page
        page.locator(f'li[data-review-id="{review["id"]}"]').click()
        expect(page.locator("#ticket-subject")).not_to_be_empty()
        expect(page.locator("#classification tbody tr[data-field]")).not_to_have_count(0)
        no_horizontal_overflow(page)
        page.screenshot(path=str(tmp_path / "phone-review.png"), full_page=True)
        approve = page.locator("#approve")
        approve.scroll_into_view_if_needed()
        box = approve.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        page.screenshot(path=str(tmp_path / "phone-actions.png"))
        approve.click()  # reachable and working: the countdown appears within the viewport
        undo = page.locator(".undo-entry .undo-cancel")
        expect(undo).to_be_visible()
        undo_box = undo.bounding_box()
        assert undo_box is not None and undo_box["x"] + undo_box["width"] <= PHONE["width"]
        no_horizontal_overflow(page)

        page.click("#tab-escalations")
        expect(page.locator(".esc-card")).to_have_count(1)
        page.locator(".esc-card .esc-packet summary").click()
        no_horizontal_overflow(page)
        page.screenshot(path=str(tmp_path / "phone-escalations.png"), full_page=True)


def test_stats_tab_shows_the_tenants_models_and_decisions(live: LiveServer) -> None:  # noqa: F811
    base = live.url
    with signed_in(base) as session:
        page = session.page
        page.click("#tab-stats")
        expect(page.locator("#view-stats")).to_be_visible()
        expect(page.locator("#view-reviews")).to_be_hidden()
        card = page.locator('article.stats-card[data-tenant="default"]')
        expect(card).to_contain_text("Tenant default")
        expect(card.locator("table").last).to_contain_text("champion")
        page.keyboard.press("ArrowLeft")  # the tab list wraps: stats -> escalations
        expect(page.locator("#view-escalations")).to_be_visible()

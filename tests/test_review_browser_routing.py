"""The routing suggestion on the review page in a real browser (see tests/test_review_browser.py): the suggested
assignee and two alternatives with their reasons, a picker holding only the tenant's active agents, and a reviewer
who picks someone else and approves: the pick is stored on the ticket as a human-corrected person label."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from config.components import Components
from config.settings import Settings
from tests.conftest import SMALL_HISTORY
from tests.fake_helpdesk import FakeHelpdesk
from tests.test_review_browser import (
    CHROMIUM,
    SUBJECT,
    TICKET_ID,
    LiveServer,
    helpdesk,  # noqa: F401 - fixture
    live,  # noqa: F401 - fixture
    post_zendesk,
    signed_in,
    undo_s,  # noqa: F401 - fixture
    wait_for_review,
)
from tests.test_review_routing import routed_data_dir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium to run"),
]


@pytest.fixture
def trained_workspace(tmp_path: Path) -> Components:
    """What `live` serves: the trained history with its resolvers, skill profiles and the tenants' rosters."""
    return Components(Settings(data_dir=routed_data_dir(tmp_path), **SMALL_HISTORY))


def test_reviewer_picks_another_assignee_and_it_is_stored(live: LiveServer, helpdesk: FakeHelpdesk) -> None:  # noqa: F811
    base = live.url
    post_zendesk(base, "inv-browser-route")
    review_id = wait_for_review(base)["id"]
    history = live.app.state.runtime.components.history
    with signed_in(base) as session:
        page = session.page
        page.locator(f'li[data-review-id="{review_id}"]').click()
        expect(page.locator("#ticket-subject")).to_have_text(SUBJECT)
        expect(page.locator("#routing-panel")).to_be_visible()
        candidates = page.locator("#routing-candidates > li")
        expect(candidates).to_have_count(3)
        expect(candidates.first).to_have_attribute("data-role", "suggested")
        expect(candidates.first.locator(".parts")).to_contain_text("skill")
        expect(candidates.first.locator(".why")).not_to_have_text("")
        suggested = candidates.first.get_attribute("data-agent-id")

        picker = page.locator("#assignee")
        expect(picker).to_have_value(suggested or "")
        # The tenant's active agents only: not the inactive one, not another tenant's; names shown clean.
        options = picker.locator("option")
        expect(options).to_have_count(4)
        assert [o.get_attribute("value") for o in options.all()] == ["alice", "bob", "carol", "dave"]
        expect(picker.locator('option[value="carol"]')).to_contain_text("Carol lrac (carol)")
        chosen = next(agent for agent in ("dave", "carol", "bob") if agent != suggested)
        picker.select_option(chosen)
        expect(page.locator("#assignee-state")).to_contain_text("Changed")
        page.click("#approve")
        expect(page.locator("#status")).to_contain_text("Approved")
        countdown = page.locator(f'.undo-entry[data-review-id="{review_id}"]')
        expect(countdown).to_contain_text("Sent to the helpdesk", timeout=30_000)  # the 2 s window passed

    deadline = time.monotonic() + 30
    while (stored := history.get_ticket("default", TICKET_ID)) is None or "assignee" not in stored.labels:
        assert time.monotonic() < deadline, "the picked assignee was not stored"
        time.sleep(0.2)
    assert stored.labels["assignee"] == chosen and stored.label_source("assignee") == "human_corrected"
    [event] = [row for row in history.audit_rows(TICKET_ID) if row["event"] == "review"]
    assert event["detail"]["corrected"] == {"assignee": chosen}

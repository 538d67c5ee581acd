"""The /insights page in a real browser against the real app (see tests/test_review_browser.py): a tenant with
three weeks of tickets, one open incident and accounts with rising friction; signed in as on /review, the page
draws the volume plot with its 95 % forecast band and daily points, the incident timeline with the incident's
member count, and the accounts table; a screenshot is taken (no CDN: the page reaches nothing but the app)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from config.components import Components
from insights.surge import top_terms
from knowledge.incidents import Incident, Observation, new_incident_id
from knowledge.schemas import Customer, Ticket
from tests.insights_data import stream
from tests.test_review_browser import (
    CHROMIUM,
    LiveServer,
    helpdesk,  # noqa: F401 - fixture
    live,  # noqa: F401 - fixture
    signed_in,
    undo_s,  # noqa: F401 - fixture
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium to run"),
]

BURST = [
    "The checkout page shows error 502 when I pay by card",
    "Card payment at checkout fails with a 502 error",
    "Checkout gives me a 502 error every time I try to pay with my card",
    "Paying by card: checkout page error 502",
    "Error 502 on the checkout page when paying with a credit card",
]


def _seed_volume(components: Components, tenant: str, now: datetime) -> int:
    start = (now - timedelta(days=21)).replace(hour=0, minute=0, second=0, microsecond=0)
    # Anonymous traffic: the accounts list holds only the accounts seeded below.
    tickets = [t.model_copy(update={"customer": None})
               for t in stream(tenant, 21, 3.0, seed=4, start=start, prefix="vol-") if t.created_at < now]  # fmt: skip
    components.history.upsert_tickets(tickets)
    return len(tickets)


def _seed_accounts(components: Components, tenant: str, now: datetime) -> None:
    contacts = [("acct-angry", 20, "neutral", "low"), ("acct-angry", 9, "negative", "low"),
                ("acct-angry", 4, "negative", "low"), ("acct-angry", 1, "very_negative", "high"),
                ("acct-annoyed", 6, "negative", "low"), ("acct-annoyed", 2, "negative", "low")]  # fmt: skip
    for i, (customer, days_ago, mood, churn) in enumerate(contacts):
        at = now - timedelta(days=days_ago)
        ticket = Ticket(id=f"acc-{i}", tenant=tenant, subject="s", body="b", created_at=at,
                        customer=Customer(id=customer, mrr=4000.0 if customer == "acct-angry" else 300.0))  # fmt: skip
        components.history.upsert_tickets([ticket])
        result = {"tenant": tenant, "ticket_id": ticket.id, "triaged_at": at.isoformat(),
                  "decision": {"action": "draft_for_review"},
                  "classification": {"sentiment": {"value": mood}, "churn_risk": {"value": churn}}}  # fmt: skip
        components.history.record_result(result, audit_detail={})


def _seed_incident(components: Components, tenant: str, now: datetime) -> Incident:
    vectors = components.embedder.embed(BURST)
    members = [
        Observation(tenant=tenant, ticket_id=f"burst-{i}", at=now - timedelta(minutes=50 - 10 * i),
                    vector=vectors[i].tolist(), text=text, customer_id=f"cust-{i % 3}", mrr=500.0)
        for i, text in enumerate(BURST)
    ]  # fmt: skip
    for obs in members:
        components.incidents.observe(obs)
    centroid = [float(sum(v[k] for v in vectors)) / len(vectors) for k in range(len(vectors[0]))]
    incident = Incident(id=new_incident_id(), tenant=tenant, state="open", label=top_terms(BURST), category=None,
                        centroid=centroid, expected=0.25, severity="P3", first_seen=members[0].at,
                        opened_at=members[-1].at, updated_at=members[-1].at)  # fmt: skip
    return components.incidents.open(incident, members)


def test_insights_page_draws_volume_band_incidents_and_accounts(live: LiveServer, tmp_path: Path) -> None:  # noqa: F811
    runtime = live.app.state.runtime
    tenant, now = runtime.settings.tenant, datetime.now(UTC)
    assert _seed_volume(runtime.components, tenant, now) > 300
    _seed_accounts(runtime.components, tenant, now)
    incident = _seed_incident(runtime.components, tenant, now)
    assert len(incident.members) == len(BURST)

    with signed_in(live.url) as session:
        page = session.page
        page.goto(f"{live.url}/insights")
        status = page.locator("#insights-status")
        # The page waits for the forecast (statsforecast fits three weeks of hours): generous on a busy machine.
        expect(status).to_contain_text(f"tenant {tenant}: 1 incident(s)", timeout=90_000)

        volume = page.locator("#volume-plot svg")
        expect(volume).to_have_count(1)
        band = volume.locator("polygon.band")
        expect(band).to_have_count(1)
        assert len(band.get_attribute("points").split()) == 14  # 7 forecast days, upper edge then lower edge
        # Readable axes: the count scale, the actual/forecast split and the first and last dates.
        expect(volume.locator("text.axis", has_text="forecast")).to_have_count(1)
        expect(volume.locator("text.axis", has_text=re.compile(r"^\d\d-\d\d$"))).to_have_count(2)
        points = volume.locator("circle.point")
        assert points.count() >= 21  # one per recent day
        assert sum(int(c) for c in points.evaluate_all("cs => cs.map(c => c.dataset.count)")) > 300

        timeline = page.locator("#incidents-plot svg")
        expect(timeline.locator("text.incident-label")).to_have_text(f"{incident.label} ({len(BURST)})")
        expect(timeline.locator("circle.point")).to_have_count(len(BURST))
        expect(page.locator("#incidents-list li > span")).to_have_text(
            f"P3 open: {incident.label} · {len(BURST)} tickets · 3 customers"
        )
        # Accept: every member listed with why it has no helpdesk link, and the broadcast draft to edit and send.
        page.locator("#incidents-list .incident-accept").click()
        members = page.locator("#incidents-list .incident-members tbody tr")
        expect(members).to_have_count(len(BURST), timeout=90_000)
        expect(members.first.locator(".link-state")).to_contain_text("not from a helpdesk")
        draft = page.locator("#incidents-list textarea.broadcast-body")
        expect(draft).not_to_be_empty()
        draft.fill("We know about it and are fixing it.")
        page.locator("#incidents-list .broadcast-send").click()
        expect(status).to_have_text(f"Broadcast queued for 0 member(s), {len(BURST)} skipped.", timeout=90_000)
        expect(page.locator("#incidents-list textarea.broadcast-body")).to_have_value(
            "We know about it and are fixing it."
        )

        rows = page.locator("#accounts tbody tr")
        expect(rows.first).to_contain_text("acct-angry")
        expect(rows).to_have_count(2)
        expect(rows.nth(1)).to_contain_text("acct-annoyed")
        shot = tmp_path / "insights.png"
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

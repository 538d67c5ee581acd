"""Shared fixtures: small real data dirs (real Chroma, real SQLite, real embeddings)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config.components import Components
from config.settings import Settings
from knowledge.schemas import Article, Ticket
from tests.postgres import fresh_schema

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

_HISTORY = [
    (
        "h1",
        "Forgot my password",
        "I can't remember my password and the login page rejects me.",
        "account",
        "password_reset",
        "P3",
    ),
    (
        "h2",
        "Password reset email never arrives",
        "I clicked forgot password twice, no email came.",
        "account",
        "password_reset",
        "P3",
    ),
    (
        "h3",
        "Reset link expired",
        "The password reset link says it expired, what now?",
        "account",
        "password_reset",
        "P3",
    ),
    (
        "h4",
        "Locked out after password change",
        "Changed my password yesterday, now it says invalid.",
        "account",
        "password_reset",
        "P2",
    ),
    (
        "h5",
        "Need a copy of my invoice",
        "Where can I download the invoice for October?",
        "billing",
        "invoice_request",
        "P3",
    ),
    (
        "h6",
        "Invoice with VAT number",
        "Please send an invoice that shows our VAT number.",
        "billing",
        "invoice_request",
        "P3",
    ),
    (
        "h7",
        "Missing invoice for last month",
        "Our finance team can't find last month's invoice.",
        "billing",
        "invoice_request",
        "P3",
    ),
    (
        "h8",
        "Charged twice",
        "My card was charged twice this month, please refund one.",
        "billing",
        "refund_request",
        "P2",
    ),
    (
        "h9",
        "Refund for unused seats",
        "We removed 5 seats, can we get a refund?",
        "billing",
        "refund_request",
        "P2",
    ),
    (
        "h10",
        "Site is down",
        "Nobody can load the dashboard, 502 errors everywhere.",
        "reliability",
        "outage",
        "P0",
    ),
    (
        "h11",
        "Everything returns 503",
        "The whole app is down for our entire team since 9am.",
        "reliability",
        "outage",
        "P0",
    ),
    (
        "h12",
        "App down in EU",
        "Outage: no one in our company can log in to the EU region.",
        "reliability",
        "outage",
        "P0",
    ),
]


def history_tickets(tenant: str = "default", prefix: str = "") -> list[Ticket]:
    return [
        Ticket(
            id=f"{prefix}{tid}",
            tenant=tenant,
            subject=subject,
            body=body,
            labels={"queue": queue, "category": category, "priority": priority},
            reply=f"Resolved: see the {category.replace('_', ' ')} article.",
            customer={"id": f"cus_{tid}", "name": "Acme", "tier": "pro", "mrr": 100},
        )
        for tid, subject, body, queue, category, priority in _HISTORY
    ]


def kb_articles(tenant: str = "default") -> list[Article]:
    return [
        Article(
            id="KB-1",
            tenant=tenant,
            title="Reset your password",
            category="password_reset",
            body="Go to the login page and click Forgot password. Enter your email; the reset link is valid "
            "for 60 minutes. Check your spam folder if the email does not arrive within 5 minutes.",
        ),
        Article(
            id="KB-2",
            tenant=tenant,
            title="Download invoices",
            category="invoice_request",
            body="Invoices are under Settings → Billing → Invoices. Click Download PDF next to the month. "
            "Add your VAT number under Billing details before the invoice is issued.",
        ),
    ]


TAXONOMY = """
[categories.password_reset]
queue = "account"
auto_resolvable = true
[categories.invoice_request]
queue = "billing"
auto_resolvable = true
[categories.refund_request]
queue = "billing"
[categories.outage]
queue = "reliability"
"""


#: The fixtures' history is a dozen tickets: every field is learned, and nothing is held out.
SMALL_HISTORY = {"min_labels_per_field": 1, "holdout_share": 0.0}


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The storage backends the contract tests run against: None is the SQLite file, else a Postgres URL."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_schema() as url:
        yield url


@pytest.fixture
def workspace(tmp_path: Path) -> Components:
    return Components(Settings(data_dir=tmp_path / "data", **SMALL_HISTORY))


@pytest.fixture
def trained_workspace(tmp_path: Path) -> Components:
    ws = Components(Settings(data_dir=tmp_path / "data", **SMALL_HISTORY))
    taxonomy = tmp_path / "taxonomy.toml"
    taxonomy.write_text(TAXONOMY)
    ws.install_taxonomy(taxonomy)
    ws.ingest.tickets(history_tickets())
    ws.ingest.kb(kb_articles())
    ws.train()
    return ws

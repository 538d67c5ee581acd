"""Proactive outreach over a real history (SQLite and Postgres): accounts with rising friction rank first,
with the reasons and tickets behind them; a calm account is left out; tenants never see each other's; CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from insights.outreach import OutreachPolicy, accounts_at_risk, accounts_csv
from knowledge.history import History
from knowledge.schemas import Customer, Ticket
from tests.insights_data import EPOCH

NOW = EPOCH + timedelta(days=60)


@pytest.fixture
def history(tmp_path: Path, database_url: str | None) -> Iterator[History]:
    h = History(tmp_path / "history.sqlite3", database_url)
    yield h
    h.close()


def _contact(history: History, tenant: str, ticket_id: str, customer: str, days_ago: float, sentiment: str,
             churn: str = "low", mrr: float | None = None) -> None:  # fmt: skip
    at = NOW - timedelta(days=days_ago)
    ticket = Ticket(id=ticket_id, tenant=tenant, subject="s", body="b", created_at=at,
                    customer=Customer(id=customer, mrr=mrr))  # fmt: skip
    history.upsert_tickets([ticket])
    result = {"tenant": tenant, "ticket_id": ticket_id, "triaged_at": at.isoformat(),
              "decision": {"action": "draft_for_review"},
              "classification": {"sentiment": {"value": sentiment}, "churn_risk": {"value": churn}}}  # fmt: skip
    history.record_result(result, audit_detail={})


def _seed(history: History, tenant: str) -> None:
    # Rising friction: four contacts this month (one last month), sentiment sliding, churn risk high, MRR 4000.
    _contact(history, tenant, "a0", "acct-angry", 40, "neutral", mrr=4000)
    for i, (days, mood) in enumerate([(20, "neutral"), (10, "negative"), (5, "negative"), (1, "very_negative")]):
        _contact(history, tenant, f"a{i + 1}", "acct-angry", days, mood, churn="high" if i == 3 else "low")
    # Some friction: two contacts, negative.
    _contact(history, tenant, "b1", "acct-annoyed", 12, "negative")
    _contact(history, tenant, "b2", "acct-annoyed", 2, "negative")
    # Calm: one happy contact.
    _contact(history, tenant, "c1", "acct-calm", 3, "positive")


def test_rising_friction_ranks_first_with_reasons_and_tickets(history: History) -> None:
    _seed(history, "acme")
    ranked = accounts_at_risk(history, "acme", NOW, OutreachPolicy(days=30))
    assert [a.customer_id for a in ranked] == ["acct-angry", "acct-annoyed"]
    angry = ranked[0]
    kinds = {r.kind: r for r in angry.reasons}
    assert set(kinds) == {"repeat_contacts", "sentiment", "churn_risk", "high_value"}
    assert kinds["repeat_contacts"].text == "4 tickets in 30 days, up from 1"
    assert kinds["sentiment"].text == "sentiment very_negative, was neutral"
    assert kinds["churn_risk"].ticket_ids == ["a4"]
    assert angry.ticket_ids == ["a1", "a2", "a3", "a4"] and angry.mrr == 4000 and angry.tickets == 4
    assert angry.score > ranked[1].score > 0


def test_tenants_never_see_each_others_accounts(history: History) -> None:
    _seed(history, "acme")
    assert accounts_at_risk(history, "globex", NOW) == []
    _contact(history, "globex", "g1", "acct-angry", 2, "very_negative")
    [only] = accounts_at_risk(history, "globex", NOW, OutreachPolicy(min_score=1))
    assert only.ticket_ids == ["g1"] and only.tickets == 1 and only.mrr == 0


def test_csv_export_one_row_per_account(history: History) -> None:
    _seed(history, "acme")
    _contact(history, "acme", "x1", "=HYPERLINK(1)", 3, "very_negative", churn="high")
    rows = list(csv.DictReader(io.StringIO(accounts_csv(accounts_at_risk(history, "acme", NOW)))))
    assert rows[0]["customer_id"] == "acct-angry" and rows[0]["ticket_ids"] == "a1 a2 a3 a4"
    assert "churn risk high" in rows[0]["reasons"]
    assert "'=HYPERLINK(1)" in [r["customer_id"] for r in rows]  # never a formula

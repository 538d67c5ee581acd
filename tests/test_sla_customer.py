"""SLA due times per priority, and the customer context read from the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from knowledge.history import History
from knowledge.schemas import Ticket
from tools.customer import customer_context
from tools.sla import SlaPolicy

CREATED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("priority", "first", "resolution"),
    [("P0", timedelta(minutes=15), timedelta(hours=4)), ("P1", timedelta(hours=1), timedelta(hours=24)),
     ("P2", timedelta(hours=4), timedelta(hours=72)), ("P3", timedelta(hours=24), timedelta(hours=168))],
)  # fmt: skip
def test_default_targets(priority: str, first: timedelta, resolution: timedelta) -> None:
    due = SlaPolicy().due(priority, CREATED, now=CREATED)
    assert due.first_response_due == CREATED + first
    assert due.resolution_due == CREATED + resolution
    assert not due.at_risk


def test_at_risk_once_three_quarters_of_the_first_response_window_is_gone() -> None:
    policy = SlaPolicy()
    assert not policy.due("P1", CREATED, now=CREATED + timedelta(minutes=44)).at_risk
    assert policy.due("P1", CREATED, now=CREATED + timedelta(minutes=46)).at_risk
    assert policy.due("P1", CREATED, now=CREATED + timedelta(hours=5)).at_risk


def _ticket(tid: str, customer: str, created: datetime) -> Ticket:
    return Ticket(
        id=tid, subject="s", body="b", created_at=created, customer={"id": customer, "tier": "enterprise", "mrr": 9000}
    )


def test_customer_context_counts_the_last_30_days(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    history.upsert_tickets(
        [
            _ticket("old", "cus_1", CREATED - timedelta(days=45)),
            _ticket("recent1", "cus_1", CREATED - timedelta(days=20)),
            _ticket("recent2", "cus_1", CREATED - timedelta(days=1)),
            _ticket("other", "cus_2", CREATED - timedelta(days=1)),
            _ticket("later", "cus_1", CREATED + timedelta(days=1)),
        ]
    )
    context = customer_context(history, _ticket("new", "cus_1", CREATED), now=CREATED)
    assert context.tickets_last_30_days == 2
    assert context.repeat_contact
    assert context.is_high_value(mrr_threshold=20000)  # enterprise tier counts whatever the MRR
    anonymous = customer_context(history, Ticket(id="a", subject="s", body="b"), now=CREATED)
    assert anonymous.tickets_last_30_days == 0 and not anonymous.repeat_contact

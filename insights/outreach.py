"""Proactive outreach: accounts (a ticket's `customer.id`) whose recent tickets show rising friction, ranked,
each with its reasons and the tickets behind each reason.

Read from the tenant's history only: its tickets (imported or stored), the tickets its webhooks brought (the
triage jobs), the latest stored triage result of each (sentiment, churn risk) and its open escalations.
Points, over the last `days` (the window) against the `days` before it:
- repeat contacts: 1 per ticket beyond the first, +1 when more than the window before;
- sentiment: 1 per negative step of the latest (negative 1, very negative 2), +1 when worse than the first;
- churn risk: high 3, medium 1 (the highest of the window's results);
- open escalations: 2 each.
The sum is weighted by value: × (1 + MRR / high_value_mrr), at most × 3. Accounts under `min_score` are left out.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from insights.series import aware
from knowledge.history import History

SENTIMENT_SCORE = {"very_negative": -2, "negative": -1, "neutral": 0, "positive": 1, "very_positive": 2}
CHURN_POINTS = {"high": 3.0, "medium": 1.0}


class OutreachPolicy(BaseModel):
    days: int = Field(default=30, ge=1, le=365)
    high_value_mrr: float = Field(default=2000, ge=0)
    min_score: float = Field(default=2.0, ge=0)
    limit: int = Field(default=100, ge=1, le=10_000)


class Reason(BaseModel):
    kind: str
    text: str
    points: float
    ticket_ids: list[str]


class AccountRisk(BaseModel):
    tenant: str
    customer_id: str
    score: float
    mrr: float
    tickets: int
    last_contact: datetime
    reasons: list[Reason]
    ticket_ids: list[str]


@dataclass
class _Contact:
    ticket_id: str
    at: datetime
    mrr: float | None = None
    sentiment: str | None = None
    churn: str | None = None
    escalated: bool = False


@dataclass
class _Account:
    recent: list[_Contact] = field(default_factory=list)
    before: int = 0
    mrr: float = 0.0


def _customer(data: dict[str, Any]) -> tuple[str | None, float | None]:
    customer = data.get("customer") or {}
    return customer.get("id"), customer.get("mrr")


def _contacts(history: History, tenant: str, since: datetime) -> dict[str, tuple[str, _Contact]]:
    """ticket id -> (customer id, contact) for every ticket of the tenant with a customer since `since`."""
    found: dict[str, tuple[str, _Contact]] = {}
    rows = history.query(
        "SELECT id AS ticket_id, created_at AS at, data FROM tickets WHERE tenant = ? AND customer_id IS NOT NULL "
        "AND created_at >= ? UNION ALL SELECT ticket_id, created_at, payload FROM jobs WHERE kind = 'triage' "
        "AND tenant = ? AND customer_id IS NOT NULL AND created_at >= ?",
        (tenant, since.isoformat(), tenant, since.isoformat()),
    )
    for row in rows:
        customer_id, mrr = _customer(json.loads(row["data"]))
        if not customer_id or row["ticket_id"] is None:
            continue
        at = aware(datetime.fromisoformat(row["at"]))
        known = found.get(row["ticket_id"])
        if known is None or at < known[1].at:  # a ticket counts once, from when it first arrived
            found[row["ticket_id"]] = (str(customer_id), _Contact(row["ticket_id"], at, mrr))
        elif mrr is not None:
            known[1].mrr = mrr
    return found


def _annotate(history: History, tenant: str, contacts: dict[str, tuple[str, _Contact]], since: datetime) -> None:
    """The latest result's sentiment and churn risk, and whether an escalation is open, on each contact."""
    for row in history.query("SELECT ticket_id, data FROM results WHERE tenant = ? AND triaged_at >= ? ORDER BY seq",
                             (tenant, since.isoformat())):  # fmt: skip
        if row["ticket_id"] not in contacts:
            continue
        classification = json.loads(row["data"]).get("classification") or {}
        contact = contacts[row["ticket_id"]][1]
        contact.sentiment = (classification.get("sentiment") or {}).get("value")
        contact.churn = (classification.get("churn_risk") or {}).get("value")
    for row in history.query("SELECT ticket_id FROM escalations WHERE tenant = ? AND state IN ('open', 'acknowledged')",
                             (tenant,)):  # fmt: skip
        if row["ticket_id"] in contacts:
            contacts[row["ticket_id"]][1].escalated = True


def _reasons(account: _Account, days: int) -> list[Reason]:
    recent = sorted(account.recent, key=lambda c: c.at)
    ids = [c.ticket_id for c in recent]
    out: list[Reason] = []
    if len(recent) > 1:
        rising = len(recent) > account.before
        text = f"{len(recent)} tickets in {days} days" + (f", up from {account.before}" if rising else "")
        out.append(Reason(kind="repeat_contacts", text=text, points=len(recent) - 1 + rising, ticket_ids=ids))
    felt = [c for c in recent if c.sentiment in SENTIMENT_SCORE]
    if felt:
        first, last = SENTIMENT_SCORE[felt[0].sentiment or ""], SENTIMENT_SCORE[felt[-1].sentiment or ""]
        worse = len(felt) > 1 and last < first
        points = max(0, -last) + worse
        if points:
            text = f"sentiment {felt[-1].sentiment}" + (f", was {felt[0].sentiment}" if worse else "")
            out.append(Reason(kind="sentiment", text=text, points=points,
                              ticket_ids=[c.ticket_id for c in felt] if worse else [felt[-1].ticket_id]))  # fmt: skip
    churned = [c for c in recent if c.churn in CHURN_POINTS]
    if churned:
        worst = max(churned, key=lambda c: CHURN_POINTS[c.churn or ""]).churn or ""
        out.append(Reason(kind="churn_risk", text=f"churn risk {worst}", points=CHURN_POINTS[worst],
                          ticket_ids=[c.ticket_id for c in churned if c.churn == worst]))  # fmt: skip
    escalated = [c.ticket_id for c in recent if c.escalated]
    if escalated:
        out.append(Reason(kind="open_escalations", text=f"{len(escalated)} open escalation(s)",
                          points=2.0 * len(escalated), ticket_ids=escalated))  # fmt: skip
    return out


def accounts_at_risk(history: History, tenant: str, now: datetime, policy: OutreachPolicy | None = None,
                     ) -> list[AccountRisk]:  # fmt: skip
    """The tenant's accounts with rising friction, the highest score first."""
    policy = policy or OutreachPolicy()
    now = aware(now)
    window = now - timedelta(days=policy.days)
    contacts = _contacts(history, tenant, window - timedelta(days=policy.days))
    _annotate(history, tenant, contacts, window - timedelta(days=policy.days))
    accounts: dict[str, _Account] = defaultdict(_Account)
    for customer_id, contact in contacts.values():
        if contact.at > now:
            continue
        account = accounts[customer_id]
        account.mrr = max(account.mrr, contact.mrr or 0.0)
        if contact.at >= window:
            account.recent.append(contact)
        else:
            account.before += 1
    ranked = []
    for customer_id, account in accounts.items():
        if not account.recent:
            continue
        reasons = _reasons(account, policy.days)
        friction = sum(r.points for r in reasons)
        weight = min(3.0, 1 + account.mrr / policy.high_value_mrr) if policy.high_value_mrr else 1.0
        if not reasons or friction * weight < policy.min_score:
            continue
        if policy.high_value_mrr and account.mrr >= policy.high_value_mrr:
            reasons.append(Reason(kind="high_value", text=f"MRR {account.mrr:g}", points=0, ticket_ids=[]))
        ids = sorted({i for r in reasons for i in r.ticket_ids} | {c.ticket_id for c in account.recent})
        ranked.append(AccountRisk(tenant=tenant, customer_id=customer_id, score=round(friction * weight, 2),
                                  mrr=account.mrr, tickets=len(account.recent), reasons=reasons, ticket_ids=ids,
                                  last_contact=max(c.at for c in account.recent)))  # fmt: skip
    ranked.sort(key=lambda a: (-a.score, -a.mrr, a.customer_id))
    return ranked[: policy.limit]


CSV_COLUMNS = ("customer_id", "score", "mrr", "tickets", "last_contact", "reasons", "ticket_ids")


def _cell(text: str) -> str:
    """A spreadsheet must not run a customer's id as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def accounts_csv(accounts: list[AccountRisk]) -> str:
    """One row per account: the reasons joined by "; ", the ticket ids by spaces."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for a in accounts:
        writer.writerow([_cell(a.customer_id), a.score, a.mrr, a.tickets, a.last_contact.isoformat(),
                         "; ".join(r.text for r in a.reasons), _cell(" ".join(a.ticket_ids))])  # fmt: skip
    return out.getvalue()

"""The decision table, row by row: first matching row wins, escalations before auto-resolve."""

from __future__ import annotations

import pytest

from agent.policy import PolicyConfig, PolicyInput, decide
from agent.schemas import Action, DecisionReason
from agent.signals import Signal, detect_signals

CONFIG = PolicyConfig(auto_resolvable_categories=frozenset({"password_reset"}))

# A ticket that auto-resolves; each case below changes one thing about it.
BASE = dict(
    priority="P3",
    category="password_reset",
    sentiment="neutral",
    churn_risk="low",
    confidences={"queue": 0.95, "category": 0.9, "priority": 0.4, "type": 0.3},
    signals=[],
    repeat_contact=False,
    high_value_customer=False,
    max_ticket_similarity=0.8,
    max_kb_similarity=0.75,
    grounding_kb_similarity=0.7,
    needs_review=False,
)

CASES = [
    ({}, Action.AUTO_RESOLVE, DecisionReason.CONFIDENT_KB_MATCH),
    ({"priority": "P0"}, Action.ESCALATE, DecisionReason.P0_INCIDENT),
    ({"signals": [Signal.SECURITY]}, Action.ESCALATE, DecisionReason.SECURITY),
    ({"category": "vulnerability_report"}, Action.ESCALATE, DecisionReason.SECURITY),
    ({"signals": [Signal.LEGAL]}, Action.ESCALATE, DecisionReason.LEGAL),
    ({"category": "gdpr_request"}, Action.ESCALATE, DecisionReason.LEGAL),
    ({"signals": [Signal.DATA_LOSS]}, Action.ESCALATE, DecisionReason.DATA_LOSS),
    (
        {"sentiment": "very_negative", "repeat_contact": True},
        Action.ESCALATE,
        DecisionReason.ANGRY_REPEAT_CONTACT,
    ),
    (
        {"sentiment": "very_negative", "repeat_contact": False},
        Action.AUTO_RESOLVE,
        DecisionReason.CONFIDENT_KB_MATCH,
    ),
    (
        {"churn_risk": "high", "high_value_customer": True},
        Action.ESCALATE,
        DecisionReason.CHURN_RISK_HIGH_VALUE,
    ),
    (
        {"churn_risk": "high", "high_value_customer": False},
        Action.AUTO_RESOLVE,
        DecisionReason.CONFIDENT_KB_MATCH,
    ),
    ({"max_ticket_similarity": 0.2, "max_kb_similarity": 0.3}, Action.ESCALATE, DecisionReason.NOVEL_ISSUE),
    ({"needs_review": True}, Action.DRAFT_FOR_REVIEW, DecisionReason.NEEDS_REVIEW),
    ({"category": "bug_report"}, Action.DRAFT_FOR_REVIEW, DecisionReason.NOT_AUTO_RESOLVABLE),
    ({"category": None}, Action.DRAFT_FOR_REVIEW, DecisionReason.NOT_AUTO_RESOLVABLE),
    ({"grounding_kb_similarity": 0.5}, Action.DRAFT_FOR_REVIEW, DecisionReason.NO_KB_MATCH),
    # A holding reply (no article passes the grounding rule) is never sent on its own.
    ({"grounded": False}, Action.DRAFT_FOR_REVIEW, DecisionReason.NO_KB_MATCH),
    ({"priority": "P1"}, Action.DRAFT_FOR_REVIEW, DecisionReason.NOT_AUTO_RESOLVABLE),
    ({"confidences": {"queue": 0.79, "category": 0.9}}, Action.DRAFT_FOR_REVIEW, DecisionReason.LOW_CONFIDENCE),
    ({"confidences": {"queue": 0.9, "category": 0.5}}, Action.DRAFT_FOR_REVIEW, DecisionReason.LOW_CONFIDENCE),
    ({"confidences": {"queue": 0.9}}, Action.DRAFT_FOR_REVIEW, DecisionReason.LOW_CONFIDENCE),  # never predicted
    ({"confidences": {"queue": 0.8, "category": 0.8}}, Action.AUTO_RESOLVE, DecisionReason.CONFIDENT_KB_MATCH),
    ({"signals": [Signal.INJECTION]}, Action.DRAFT_FOR_REVIEW, DecisionReason.NEEDS_REVIEW),
    ({"category_agreement": False}, Action.DRAFT_FOR_REVIEW, DecisionReason.LOW_CONFIDENCE),
    ({"signals": [Signal.INJECTION, Signal.OUTAGE], "priority": "P0"}, Action.ESCALATE, DecisionReason.P0_INCIDENT),
    # Precedence: P0 beats security, security beats an otherwise perfect auto-resolution.
    ({"priority": "P0", "signals": [Signal.SECURITY]}, Action.ESCALATE, DecisionReason.P0_INCIDENT),
    ({"signals": [Signal.LEGAL, Signal.SECURITY]}, Action.ESCALATE, DecisionReason.SECURITY),
]


@pytest.mark.parametrize(("change", "action", "reason"), CASES)
def test_policy_table(change: dict, action: Action, reason: DecisionReason) -> None:
    decision = decide(PolicyInput(**{**BASE, **change}), CONFIG)
    assert (decision.action, decision.reason) == (action, reason)
    assert decision.explanation


def test_every_reason_in_the_enum_is_reachable() -> None:
    reached = {decide(PolicyInput(**{**BASE, **change}), CONFIG).reason for change, _, _ in CASES}
    assert reached == set(DecisionReason)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I found a stored XSS vulnerability in the comments field", {Signal.SECURITY}),
        ("We received a subpoena and our lawyer needs the audit logs", {Signal.LEGAL}),
        ("All our boards disappeared overnight, we lost all our data", {Signal.DATA_LOSS}),
        ("Nobody in our org can load boards, 502 errors since 09:40", {Signal.OUTAGE}),
        ("We will cancel our subscription at the end of the month", {Signal.CANCELLATION}),
        ("How do I download last month's invoice?", set()),
    ],
)
def test_signals(text: str, expected: set[Signal]) -> None:
    assert set(detect_signals(text)) == expected


def test_gating_fields_are_configurable() -> None:
    strict = CONFIG.model_copy(update={"auto_apply_fields": ("queue", "category", "priority")})
    decision = decide(PolicyInput(**BASE), strict)
    assert decision.reason == DecisionReason.LOW_CONFIDENCE
    assert "priority" in decision.explanation

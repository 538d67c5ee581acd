"""The decision policy: auto-resolve, draft for review, or escalate. Deterministic, no model in it.

The LLM (when configured) may classify and write; only this table decides what happens to a ticket,
so an instruction hidden in a ticket can never talk its way into an auto-resolution.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.schemas import Action, Decision, DecisionReason
from agent.signals import Signal


class PolicyConfig(BaseModel):
    #: Every field's confidence must reach this for an auto-resolution.
    auto_apply_confidence: float = Field(default=0.8, ge=0, le=1)
    #: A KB article must match at least this well (cosine similarity) to ground an auto-resolution.
    strong_kb_match: float = Field(default=0.6, ge=0, le=1)
    #: Below this best similarity to both history and KB, the issue counts as novel.
    novelty_similarity: float = Field(default=0.35, ge=0, le=1)
    #: Customers at or above this MRR (or on a high-value tier) are high value.
    high_value_mrr: float = Field(default=2000, ge=0)
    auto_resolvable_categories: frozenset[str] = frozenset()
    security_categories: frozenset[str] = frozenset({"security", "vulnerability_report", "suspicious_activity"})
    legal_categories: frozenset[str] = frozenset({"legal", "legal_request", "gdpr_request", "data_deletion"})
    data_loss_categories: frozenset[str] = frozenset({"data_loss"})


class PolicyInput(BaseModel):
    """Everything the policy looks at, and nothing else."""

    priority: str
    category: str | None = None
    sentiment: str = "neutral"
    churn_risk: str = "low"
    min_confidence: float = Field(ge=0, le=1)
    signals: list[Signal] = Field(default_factory=list)
    repeat_contact: bool = False
    high_value_customer: bool = False
    max_ticket_similarity: float = 0.0
    max_kb_similarity: float = 0.0
    needs_review: bool = False


def _escalate(reason: DecisionReason, explanation: str) -> Decision:
    return Decision(action=Action.ESCALATE, reason=reason, explanation=explanation)


def _review(reason: DecisionReason, explanation: str) -> Decision:
    return Decision(action=Action.DRAFT_FOR_REVIEW, reason=reason, explanation=explanation)


def decide(facts: PolicyInput, config: PolicyConfig) -> Decision:
    """First matching row wins; escalations are checked before anything that could auto-resolve."""
    category = facts.category or ""
    if facts.priority == "P0":
        return _escalate(DecisionReason.P0_INCIDENT, "Classified P0: needs an on-call human now.")
    if Signal.SECURITY in facts.signals or category in config.security_categories:
        return _escalate(DecisionReason.SECURITY, "Reads as a security report or compromised account.")
    if Signal.LEGAL in facts.signals or category in config.legal_categories:
        return _escalate(DecisionReason.LEGAL, "Legal or data-protection request: handled by a person.")
    if Signal.DATA_LOSS in facts.signals or category in config.data_loss_categories:
        return _escalate(DecisionReason.DATA_LOSS, "The customer reports lost or deleted data.")
    if facts.sentiment == "very_negative" and facts.repeat_contact:
        return _escalate(
            DecisionReason.ANGRY_REPEAT_CONTACT,
            "Very negative sentiment from a customer who wrote in recently.",
        )
    if facts.churn_risk == "high" and facts.high_value_customer:
        return _escalate(DecisionReason.CHURN_RISK_HIGH_VALUE, "High churn risk on a high-value account.")
    best_match = max(facts.max_ticket_similarity, facts.max_kb_similarity)
    if best_match < config.novelty_similarity:
        return _escalate(
            DecisionReason.NOVEL_ISSUE,
            f"Nothing in resolved history or the KB is similar (best {best_match:.2f}).",
        )
    if facts.needs_review:
        return _review(DecisionReason.NEEDS_REVIEW, "The classification fell outside the taxonomy.")
    if category not in config.auto_resolvable_categories:
        return _review(DecisionReason.NOT_AUTO_RESOLVABLE, f"Category {category or '(none)'!r} is not auto-resolvable.")
    if facts.max_kb_similarity < config.strong_kb_match:
        return _review(
            DecisionReason.NO_KB_MATCH,
            f"Best KB match {facts.max_kb_similarity:.2f} is under {config.strong_kb_match:.2f}.",
        )
    if facts.min_confidence < config.auto_apply_confidence:
        return _review(
            DecisionReason.LOW_CONFIDENCE,
            f"Lowest field confidence {facts.min_confidence:.2f} is under {config.auto_apply_confidence:.2f}.",
        )
    return Decision(
        action=Action.AUTO_RESOLVE,
        reason=DecisionReason.CONFIDENT_KB_MATCH,
        explanation="Auto-resolvable category, a strong KB match and every confidence above the bar.",
    )

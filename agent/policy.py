"""The decision policy: auto-resolve, draft for review, or escalate. Deterministic, no model in it.

The LLM (when configured) may classify and write; only this table decides what happens to a ticket,
so an instruction hidden in a ticket can never talk its way into an auto-resolution.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from agent.schemas import Action, Decision, DecisionReason
from agent.signals import Signal


class PolicyConfig(BaseModel):
    #: The confidence of every field in `auto_apply_fields` must reach this for an auto-resolution.
    auto_apply_confidence: float = Field(default=0.8, ge=0, le=1)
    #: The fields that say what the issue is, and so which answer fits it. Priority and type do not
    #: change the answer; `auto_resolve_priorities` keeps urgent tickets with a human instead.
    auto_apply_fields: tuple[str, ...] = ("queue", "category")
    auto_resolve_priorities: frozenset[str] = frozenset({"P2", "P3"})
    #: The grounding KB article (same category as the ticket) must match at least this well (cosine).
    strong_kb_match: float = Field(default=0.55, ge=0, le=1)
    #: A draft cites a KB article only at or above this similarity (cosine); below it the reply is a holding
    #: reply. On the sample company's history (benchmarks/grounding_threshold.py) 0.40 cuts the drafts citing
    #: an article of a wrong category from 133 to 44 of 345 and keeps every right draft of the demo's tickets;
    #: 0.45 cuts to 32 but turns two right demo drafts (0.41, one a German ticket) into holding replies.
    grounding_min_similarity: float = Field(default=0.40, ge=0, le=1)
    #: Per-category overrides of `grounding_min_similarity` (e.g. stricter for money or access topics).
    grounding_min_similarity_by_category: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    #: Below this category confidence the predicted category alone doesn't justify citing its article:
    #: the closest article overall must be of that category too. Also the confidence a queue needs before
    #: a holding reply names its team.
    grounding_min_confidence: float = Field(default=0.5, ge=0, le=1)
    #: Below this best similarity to both history and KB, the issue counts as novel.
    novelty_similarity: float = Field(default=0.35, ge=0, le=1)
    #: Customers at or above this MRR (or on a high-value tier) are high value.
    high_value_mrr: float = Field(default=2000, ge=0)
    auto_resolvable_categories: frozenset[str] = frozenset()
    security_categories: frozenset[str] = frozenset({"security", "vulnerability_report", "suspicious_activity"})
    legal_categories: frozenset[str] = frozenset({"legal", "legal_request", "gdpr_request", "data_deletion"})
    data_loss_categories: frozenset[str] = frozenset({"data_loss"})

    def grounding_threshold(self, category: str | None) -> float:
        """The similarity an article of `category` needs before a draft may cite it."""
        return self.grounding_min_similarity_by_category.get(category or "", self.grounding_min_similarity)


class PolicyInput(BaseModel):
    """Everything the policy looks at, and nothing else."""

    priority: str
    category: str | None = None
    sentiment: str = "neutral"
    churn_risk: str = "low"
    confidences: dict[str, float] = Field(default_factory=dict)
    signals: list[Signal] = Field(default_factory=list)
    repeat_contact: bool = False
    high_value_customer: bool = False
    max_ticket_similarity: float = 0.0
    max_kb_similarity: float = 0.0
    #: Similarity of the article a draft would be grounded in (one of the ticket's category, if any).
    grounding_kb_similarity: float = 0.0
    #: False when no article passes the grounding rule (agent/grounding.py): the draft is a holding reply,
    #: which is never sent without a human, whatever the other bars say.
    grounded: bool = True
    needs_review: bool = False
    #: False when the LLM and the local model name different categories: a cross-check no ticket
    #: text can talk both into.
    category_agreement: bool = True


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
    if Signal.LEGAL_THREAT in facts.signals:
        return _escalate(DecisionReason.LEGAL, "The customer threatens legal action: handled by a person.")
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
    if Signal.INJECTION in facts.signals:
        return _review(
            DecisionReason.NEEDS_REVIEW, "The ticket addresses the triage system itself (possible prompt injection)."
        )
    if facts.needs_review:
        return _review(DecisionReason.NEEDS_REVIEW, "The classification needs a human check (see review notes).")
    if category not in config.auto_resolvable_categories:
        return _review(DecisionReason.NOT_AUTO_RESOLVABLE, f"Category {category or '(none)'!r} is not auto-resolvable.")
    if facts.priority not in config.auto_resolve_priorities:
        return _review(DecisionReason.NOT_AUTO_RESOLVABLE, f"{facts.priority} tickets always get a human reply.")
    if not facts.grounded:
        return _review(DecisionReason.NO_KB_MATCH, "No KB article matches well enough to answer from.")
    if facts.grounding_kb_similarity < config.strong_kb_match:
        return _review(
            DecisionReason.NO_KB_MATCH,
            f"Best KB article for the category matches {facts.grounding_kb_similarity:.2f}, "
            f"under {config.strong_kb_match:.2f}.",
        )
    if not facts.category_agreement:
        return _review(DecisionReason.LOW_CONFIDENCE, "The LLM and the local model disagree on the category.")
    gating = {name: facts.confidences.get(name, 0.0) for name in config.auto_apply_fields}
    weakest = min(gating, key=gating.__getitem__, default=None)
    if weakest is not None and gating[weakest] < config.auto_apply_confidence:
        return _review(
            DecisionReason.LOW_CONFIDENCE,
            f"{weakest} confidence {gating[weakest]:.2f} is under {config.auto_apply_confidence:.2f}.",
        )
    return Decision(
        action=Action.AUTO_RESOLVE,
        reason=DecisionReason.CONFIDENT_KB_MATCH,
        explanation="Auto-resolvable category, a strong KB match and every confidence above the bar.",
    )

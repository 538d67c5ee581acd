"""The output contract: TriageResult and its parts (see DESIGN.md, "The output contract").

`caseworker schema` prints the JSON Schema of TriageResult; every stored or emitted result
validates against it. This module imports nothing else from the project.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

#: 1.1 added `routing`; results stored as 1.0 (no routing) still validate.
SCHEMA_VERSION = "1.1"

Priority = Literal["P0", "P1", "P2", "P3"]
SENTIMENTS: tuple[str, ...] = ("very_negative", "negative", "neutral", "positive", "very_positive")
CHURN_RISKS: tuple[str, ...] = ("low", "medium", "high")
_SCALES: dict[str, tuple[str, ...]] = {
    "priority": ("P0", "P1", "P2", "P3"),
    "sentiment": SENTIMENTS,
    "churn_risk": CHURN_RISKS,
}
Band = Literal["high", "medium", "low"]
Source = Literal["local", "llm", "rule", "given"]

HIGH_BAND = 0.8
MEDIUM_BAND = 0.5


def band_for(confidence: float) -> Band:
    if confidence >= HIGH_BAND:
        return "high"
    if confidence >= MEDIUM_BAND:
        return "medium"
    return "low"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldPrediction(_Strict):
    value: str
    confidence: float = Field(ge=0, le=1)
    band: Band
    source: Source
    alternatives: list[tuple[str, float]] = Field(default_factory=list)

    @classmethod
    def of(
        cls,
        value: str,
        confidence: float,
        source: Source,
        alternatives: list[tuple[str, float]] | None = None,
    ) -> FieldPrediction:
        confidence = round(min(max(float(confidence), 0.0), 1.0), 4)
        return cls(
            value=value,
            confidence=confidence,
            band=band_for(confidence),
            source=source,
            alternatives=[(label, round(float(p), 4)) for label, p in (alternatives or [])],
        )


class Classification(_Strict):
    """Fields the history never labelled are null for queue/category; the rest always have a value."""

    queue: FieldPrediction | None
    category: FieldPrediction | None
    priority: FieldPrediction
    type: FieldPrediction | None
    sentiment: FieldPrediction
    churn_risk: FieldPrediction
    language: FieldPrediction
    custom: dict[str, FieldPrediction] = Field(default_factory=dict)
    needs_review: bool = False
    review_notes: list[str] = Field(default_factory=list)

    @field_validator("priority", "sentiment", "churn_risk")
    @classmethod
    def _on_its_scale(cls, value: FieldPrediction, info: ValidationInfo) -> FieldPrediction:
        scale = _SCALES[info.field_name or ""]
        if value.value not in scale:
            raise ValueError(f"{info.field_name} must be one of {', '.join(scale)}, got {value.value!r}")
        return value

    def predictions(self) -> dict[str, FieldPrediction]:
        named = {
            "queue": self.queue,
            "category": self.category,
            "priority": self.priority,
            "type": self.type,
            "sentiment": self.sentiment,
            "churn_risk": self.churn_risk,
            "language": self.language,
        }
        return {k: v for k, v in {**named, **self.custom}.items() if v is not None}


class SimilarTicket(_Strict):
    id: str
    score: float
    subject: str
    labels: dict[str, str] = Field(default_factory=dict)
    resolution_excerpt: str | None = None


class KBHit(_Strict):
    article_id: str
    chunk_id: str
    title: str
    score: float
    excerpt: str
    category: str | None = None


class Evidence(_Strict):
    similar_tickets: list[SimilarTicket] = Field(default_factory=list)
    kb_articles: list[KBHit] = Field(default_factory=list)
    max_ticket_similarity: float = 0.0
    max_kb_similarity: float = 0.0
    novelty: float = Field(ge=0, le=1, description="1 − the best similarity to resolved history or the KB")
    novel: bool


class Action(StrEnum):
    AUTO_RESOLVE = "auto_resolve"
    DRAFT_FOR_REVIEW = "draft_for_review"
    ESCALATE = "escalate"


class DecisionReason(StrEnum):
    """The fixed list of reasons a decision may give; dashboards and evals group by these."""

    P0_INCIDENT = "p0_incident"
    SECURITY = "security"
    LEGAL = "legal"
    DATA_LOSS = "data_loss"
    ANGRY_REPEAT_CONTACT = "angry_repeat_contact"
    CHURN_RISK_HIGH_VALUE = "churn_risk_high_value"
    NOVEL_ISSUE = "novel_issue"
    NEEDS_REVIEW = "needs_review"
    CONFIDENT_KB_MATCH = "confident_kb_match"
    LOW_CONFIDENCE = "low_confidence"
    NO_KB_MATCH = "no_kb_match"
    NOT_AUTO_RESOLVABLE = "not_auto_resolvable"


class Decision(_Strict):
    action: Action
    reason: DecisionReason
    explanation: str


class Citation(_Strict):
    kind: Literal["kb", "ticket"]
    id: str
    title: str
    score: float


class Draft(_Strict):
    """A reply for the customer, in plain text (helpdesk connectors render it for their channel)."""

    body: str
    citations: list[Citation]
    internal_note: str | None = None
    #: False for a holding reply: no source matched well enough to answer from, so the reply only
    #: acknowledges, asks what would resolve it and says who follows up ("no grounded answer").
    grounded: bool = True
    #: Why there is no grounded answer (best match, its score and the bar it missed); None when grounded.
    grounding_note: str | None = None


class Escalation(_Strict):
    reason: DecisionReason
    summary: str
    context_for_agent: str
    suggested_team: str
    secondary_team: str | None = None
    similar_cases: list[str] = Field(default_factory=list)
    kb_leads: list[str] = Field(default_factory=list)
    customer_tried: list[str] = Field(default_factory=list)


class RoutingParts(_Strict):
    """What a candidate's score is made of (each part 0–1, higher is better, except `load`)."""

    #: How well this person's resolution history (and declared skills) fits the ticket, recency-weighted.
    skill_match: float = Field(ge=0, le=1)
    #: How fast they resolved recently against the tenant's typical time; 0.5 when unknown.
    recent_speed: float = Field(ge=0, le=1)
    open_tickets: int = Field(ge=0)
    capacity: int | None = None
    #: open_tickets / capacity (over 1 = over capacity); None when no capacity is declared.
    load: float | None = None
    on_shift: bool
    #: None when the ticket's language or the agent's languages are unknown.
    language_match: bool | None = None


class RoutingCandidate(_Strict):
    agent_id: str
    name: str
    score: float
    parts: RoutingParts
    #: False when this person was only suggested because nobody else qualified (over capacity or off shift).
    qualified: bool = True
    reason: str


RoutingRule = Literal["skill", "team", "escalation_team", "vip_senior"]


class Routing(_Strict):
    """Who should work the ticket: a team, a suggested assignee and two alternatives, with reasons."""

    team: str | None = None
    assignee: RoutingCandidate | None
    alternatives: list[RoutingCandidate] = Field(default_factory=list, max_length=2)
    #: Agent ids best first (up to 10): the review page's picker and the eval's top-k.
    ranked: list[str] = Field(default_factory=list, max_length=10)
    rule: RoutingRule = "skill"
    #: Said when the policy had to bend (nobody qualified), or why there is no suggestion.
    note: str | None = None
    candidates: int = 0


class Sla(_Strict):
    priority: Priority
    first_response_due: datetime
    resolution_due: datetime
    at_risk: bool


class Meta(_Strict):
    mode: Literal["local", "llm", "cascade"]
    model: str
    embedding_model: str
    prompt_versions: dict[str, str] = Field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float
    ticket_tokens: int = 0
    llm_calls: int = 0
    #: 1 when cascade mode settled the classification locally and so skipped the LLM call.
    llm_calls_saved: int = 0


class TriageResult(_Strict):
    schema_version: Literal["1.0", "1.1"] = SCHEMA_VERSION
    ticket_id: str
    tenant: str
    triaged_at: datetime
    classification: Classification
    evidence: Evidence
    decision: Decision
    draft: Draft | None
    escalation: Escalation | None
    #: None when the tenant has no roster (or the result predates routing).
    routing: Routing | None = None
    sla: Sla
    meta: Meta

"""The graph's state (what flows between nodes) and context (what the nodes use, fixed per run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

from agent.llm_tasks import LLMUsage
from agent.policy import PolicyConfig
from agent.schemas import Classification, Decision, Draft, Escalation, Evidence, Routing, Sla, TriageResult
from agent.signals import Signal
from agent.sink import HistorySink, ResultSink
from knowledge.history import History
from knowledge.reviews import ReviewDecision
from knowledge.schemas import Ticket
from knowledge.taxonomy import Taxonomy
from tools.customer import CustomerContext
from tools.retrieval import Retrieval, Retriever
from tools.routing.context import RoutingContext
from tools.sla import SlaPolicy

if TYPE_CHECKING:
    from agent.llm import LLMClient
    from agent.local_model import FieldGuess, LocalModel
    from agent.model_provider import ModelProvider


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Prefetched:
    """What a batch computed for one ticket before its graph run (agent/batch.py): the nodes use it instead
    of embedding, searching and scoring the ticket alone, and only when it was computed from the very text
    and model they would use, so a run's result is the same with or without it."""

    #: The model text it was computed from (`prepare`'s `model_text`).
    model_text: str
    retrieval: Retrieval
    #: The local model's guesses and that model's version; None when the tenant had no model.
    guesses: dict[str, FieldGuess] | None = None
    model_version: str | None = None


@dataclass
class TriageContext:
    """Dependencies of one triage run; built from settings by config/components.py (the service gives each job
    run its own `sink`)."""

    history: History
    retriever: Retriever
    #: Each tenant's champion model (None: rules only, as before any training).
    models: ModelProvider | None
    taxonomy: Taxonomy | None = None
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    mode: str = "local"  # local | llm | cascade
    llm: LLMClient | None = None
    #: In cascade mode, routing fields the local model is less sure of than this go to the LLM.
    cascade_threshold: float = 0.8
    #: The fields whose doubt is worth an LLM call in cascade mode (custom labels always count).
    cascade_fields: tuple[str, ...] = ("queue", "category")
    k_tickets: int = 5
    k_kb: int = 3
    signoff: str = "The Support Team"
    clock: Callable[[], datetime] = _utcnow
    #: Roster, open load, skill profiles and routing policy; None (or a tenant without a roster): no routing.
    routing: RoutingContext | None = None
    #: Where `record` hands the result (and a paused run its review decision); None: the history.
    sink: ResultSink | None = None
    #: This run's ticket's inputs, computed with its batch-mates (None: the nodes compute them alone).
    prefetched: Prefetched | None = None

    @property
    def result_sink(self) -> ResultSink:
        return self.sink if self.sink is not None else HistorySink(self.history)

    def local_model(self, tenant: str) -> LocalModel | None:
        """The tenant's model, as promoted right now (another process may have promoted a new one)."""
        return self.models.for_tenant(tenant) if self.models is not None else None


class TriageState(TypedDict, total=False):
    ticket: Ticket
    review: ReviewDecision
    started: float
    now: datetime
    clean_text: str
    model_text: str
    ticket_tokens: int
    language: tuple[str, float, str]  # code, confidence, source ("given" by the helpdesk or "rule")
    signals: list[Signal]
    customer: CustomerContext
    embedding: list[float]
    evidence: Evidence
    similar_replies: dict[str, str]
    similar_texts: dict[str, str]
    kb_texts: dict[str, str]
    classification: Classification
    #: The local model version that classified this ticket ("rules-only" without one).
    model_version: str
    category_agreement: bool
    llm_usage: LLMUsage
    llm_saved: int
    decision: Decision
    sla: Sla
    draft: Draft | None
    escalation: Escalation | None
    routing: Routing | None
    prompt_versions: dict[str, str]
    result: TriageResult
    timings_ms: dict[str, Any]

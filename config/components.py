"""The object graph built from settings: the stores (history database, vector store), the embedder, the
model registry and provider, ingest, training, the LLM client and the triage context. The CLI, the
service and evals build their parts here; nothing below config/ reads settings."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from agent.llm import LLMClient, LLMConfig, Price
from agent.local_model import ModelNotTrainedError
from agent.model_provider import ModelProvider
from agent.policy import PolicyConfig
from agent.state import TriageContext
from agent.training import Promote, TenantTrainer, TrainingOptions, TrainingReport
from config.settings import Settings
from insights.outreach import OutreachPolicy
from insights.staffing import StaffingPolicy
from insights.surge import SurgeDetector, SurgePolicy
from knowledge.embeddings import Embedder, embedder_named
from knowledge.history import History
from knowledge.incidents import IncidentBook
from knowledge.ingest import Ingest
from knowledge.model_registry import ModelRegistry
from knowledge.reembed import ReembedReport, reembed
from knowledge.store import KnowledgeStore
from knowledge.taxonomy import Taxonomy, load_taxonomy, save_taxonomy
from tools.retrieval import Retriever
from tools.routing.build import build_tenant_profiles
from tools.routing.context import RoutingContext
from tools.routing.policy import RoutingPolicy
from tools.routing.scoring import SkillWeights
from tools.sla import SlaPolicy


class LLMConfigError(ValueError):
    """llm or cascade mode was asked for without the settings it needs."""


class Components:
    """One deployment's parts, each built on first use (a process that only enqueues never loads a model)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)

    @cached_property
    def embedder(self) -> Embedder:
        if self.settings.embedder == "tuned":
            # The data dir's own MiniLM (`caseworker train --tune-encoder`), its sha256 checked on load.
            from knowledge.embeddings_tuned import ENCODER_DIR, load_tuned

            return load_tuned(self.settings.data_dir / ENCODER_DIR, self.settings.embedding_threads)
        return embedder_named(self.settings.embedder, self.settings.embedding_threads)

    @cached_property
    def store(self) -> KnowledgeStore:
        s = self.settings
        return KnowledgeStore(s.chroma_dir, self.embedder, threads=s.embedding_threads, url=s.chroma_url)

    def reembed(self, progress: Callable[[str, int], None] | None = None) -> ReembedReport:
        """Re-embed the collections with the configured embedder (they may have been built with another)."""
        s = self.settings
        store = KnowledgeStore(s.chroma_dir, self.embedder, threads=s.embedding_threads, url=s.chroma_url,
                               check_model=False)  # fmt: skip
        return reembed(store, self.history, progress or (lambda _c, _n: None))

    @cached_property
    def history(self) -> History:
        return History(self.settings.history_path, self.settings.database_url)

    @cached_property
    def ingest(self) -> Ingest:
        return Ingest(self.history, self.store, self.embedder, self.settings.kb_chunk_tokens)

    def install_taxonomy(self, path: Path) -> Taxonomy:
        taxonomy = Taxonomy.load(path)
        save_taxonomy(self.history, taxonomy)
        return taxonomy

    @property
    def taxonomy(self) -> Taxonomy | None:
        stored = load_taxonomy(self.history)
        legacy = self.settings.taxonomy_path
        if stored is None and self.settings.database_url is None and legacy.is_file():
            # A data dir from before the taxonomy moved into the database: move it in once.
            stored = Taxonomy.load(legacy)
            save_taxonomy(self.history, stored)
        return stored

    # --- models ---------------------------------------------------------------------------------
    @cached_property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.history, keep=self.settings.models_keep)

    @cached_property
    def models(self) -> ModelProvider:
        return ModelProvider(self.registry, self.embedder.model_id)

    # --- routing to people -------------------------------------------------------------------------
    def routing_policy(self) -> RoutingPolicy:
        s = self.settings
        return RoutingPolicy(
            weights=s.routing_weights,
            escalation_team=s.routing_escalation_team or None,
            vip_to_senior=s.routing_vip_to_senior,
            exclude_requester=s.routing_exclude_requester,
            queue_teams=s.routing_queue_teams,
            skill=SkillWeights.model_validate(s.routing_skill),
        )

    @cached_property
    def routing(self) -> RoutingContext:
        return RoutingContext(self.history, self.routing_policy())

    def build_routing_profiles(self, tenant: str | None = None) -> dict[str, int]:
        """Rebuild the skill profiles of `tenant` (every tenant when None) from the resolutions naming their person."""
        s = self.settings
        return build_tenant_profiles(self.history, self.store, self.embedder, s.routing_person_label,
                                     s.routing_half_life_days, None if tenant is None else [tenant])  # fmt: skip

    @cached_property
    def trainer(self) -> TenantTrainer:
        return TenantTrainer(self.history, self.store, self.embedder, self.registry)

    def training_options(self, promote: Promote = "auto", holdout_share: float | None = None) -> TrainingOptions:
        s = self.settings
        return TrainingOptions(
            min_labels_per_field=s.min_labels_per_field,
            holdout_share=s.holdout_share if holdout_share is None else holdout_share,
            tolerance=s.promotion_tolerance,
            promote=promote,
            # Who resolved a ticket is routing's to learn (skill profiles), never the classifier's.
            exclude_fields=(s.routing_person_label,),
        )

    def train(
        self,
        tenant: str | None = None,
        promote: Promote = "auto",
        holdout_share: float | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> list[TrainingReport]:
        """Train a candidate for `tenant` (every tenant with labelled history when None), through the gate, with
        the options the settings give."""
        tenants = [tenant] if tenant is not None else self.history.tenants()
        if not tenants:
            raise ModelNotTrainedError("no labelled tickets in the history: run `caseworker ingest tickets` first")
        options = self.training_options(promote, holdout_share)
        return [self.trainer.train(name, options, progress) for name in tenants]

    # --- insights ------------------------------------------------------------------------------
    def surge_policy(self) -> SurgePolicy:
        s = self.settings
        return SurgePolicy(
            window_minutes=s.surge_window_minutes, similarity=s.surge_similarity, min_size=s.surge_min_size,
            p_value=s.surge_p_value, reference_size=s.surge_reference_size, suppress_hours=s.surge_suppress_hours,
            attach_hours=s.surge_attach_hours, min_expected=s.surge_min_expected, high_value_mrr=s.high_value_mrr,
        )  # fmt: skip

    def staffing_policy(self) -> StaffingPolicy:
        s = self.settings
        return StaffingPolicy(handle_minutes=s.staffing_handle_minutes, service_level=s.staffing_service_level,
                              answer_within_minutes=s.staffing_answer_within_minutes,
                              occupancy_cap=s.staffing_occupancy_cap)  # fmt: skip

    def outreach_policy(self, days: int = 30) -> OutreachPolicy:
        return OutreachPolicy(days=days, high_value_mrr=self.settings.high_value_mrr)

    @cached_property
    def incidents(self) -> IncidentBook:
        return IncidentBook(self.history)

    @cached_property
    def surge(self) -> SurgeDetector:
        return SurgeDetector(self.incidents, self.surge_policy())

    # --- triage --------------------------------------------------------------------------------
    def llm(self) -> LLMClient | None:
        """The LLM client for llm/cascade mode; None in local mode. Errors name what is missing."""
        s = self.settings
        if s.mode == "local":
            return None
        if not s.model:
            raise LLMConfigError(f"mode {s.mode!r} needs a model: set CASEWORKER_MODEL (and OPENAI_BASE_URL)")
        if not s.openai_base_url and s.openai_api_key is None:
            raise LLMConfigError(f"mode {s.mode!r} needs OPENAI_BASE_URL (a local server) or OPENAI_API_KEY")
        price_in, price_out = s.llm_price()
        config = LLMConfig(
            model=s.model,
            base_url=s.openai_base_url,
            api_key=s.openai_api_key.get_secret_value() if s.openai_api_key else "not-needed",
            timeout_s=s.llm_timeout_s,
            max_attempts=s.llm_max_attempts,
            deadline_s=s.llm_deadline_s,
            max_concurrency=s.llm_max_concurrency,
            context_tokens=s.llm_context_tokens,
            max_output_tokens=s.llm_max_output_tokens,
            breaker_threshold=s.llm_breaker_threshold,
            breaker_cooldown_s=s.llm_breaker_cooldown_s,
            price=Price(input_per_mtok=price_in, output_per_mtok=price_out),
        )
        history = self.history
        return LLMClient(
            config,
            audit=lambda detail: history.audit(
                "llm_call", detail, tenant=detail.get("tenant") or "default", ticket_id=detail.get("ticket_id")
            ),
        )

    def policy(self, taxonomy: Taxonomy | None = None) -> PolicyConfig:
        s = self.settings
        taxonomy = taxonomy or self.taxonomy
        return PolicyConfig(
            auto_apply_confidence=s.auto_apply_confidence,
            strong_kb_match=s.strong_kb_match,
            novelty_similarity=s.novelty_similarity,
            high_value_mrr=s.high_value_mrr,
            auto_resolvable_categories=taxonomy.auto_resolvable if taxonomy else frozenset(),
        )

    def context(self) -> TriageContext:
        s = self.settings
        taxonomy = self.taxonomy
        policy = self.policy(taxonomy)
        return TriageContext(
            history=self.history,
            retriever=Retriever(self.store, self.embedder),
            models=self.models,
            taxonomy=taxonomy,
            policy=policy,
            sla=SlaPolicy(),
            mode=s.mode,
            llm=self.llm(),
            cascade_threshold=s.cascade_threshold,
            cascade_fields=s.cascade_fields,
            k_tickets=s.k_tickets,
            k_kb=s.k_kb,
            signoff=s.signoff,
            routing=self.routing,
        )

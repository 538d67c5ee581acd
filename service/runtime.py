"""Everything a service process holds: the workspace, the queue, the review book, the checkpointer and
the service graph, built once from settings. Web handlers and workers call this, never each other."""

from __future__ import annotations

import importlib
import logging
import sqlite3
import threading
from functools import cached_property
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agent.graph import build_service_graph
from agent.schemas import TriageResult
from agent.state import TriageContext
from agent.text import model_text
from caseworker.settings import Settings
from caseworker.workspace import Workspace
from knowledge.jobs import Job, JobLease, JobQueue, NewJob
from knowledge.reviews import Review, ReviewBook, ReviewConflict, ReviewDecision
from knowledge.schemas import Ticket, stable_id
from service.webhooks.delivery import Delivery
from service.webhooks.routes import EnqueueOutcome
from tools.helpdesk.actions import WriteBackAction
from tools.helpdesk.errors import WriteBackError
from tools.helpdesk.freshdesk import FreshdeskConfig
from tools.helpdesk.intercom import IntercomConfig
from tools.helpdesk.jira import JiraConfig
from tools.helpdesk.registry import HelpdeskConfigs, apply_action
from tools.helpdesk.zendesk import ZendeskConfig

log = logging.getLogger(__name__)


def helpdesk_configs(s: Settings) -> HelpdeskConfigs:
    return HelpdeskConfigs(
        zendesk=ZendeskConfig(url=s.zendesk_url, email=s.zendesk_email, api_token=s.zendesk_api_token,
                              field_ids=s.zendesk_field_ids),
        intercom=IntercomConfig(url=s.intercom_url, access_token=s.intercom_access_token, admin_id=s.intercom_admin_id),
        jira=JiraConfig(url=s.jira_url, email=s.jira_email, api_token=s.jira_api_token),
        freshdesk=FreshdeskConfig(url=s.freshdesk_url, api_key=s.freshdesk_api_key),
        writeback={"zendesk": s.zendesk_writeback, "intercom": s.intercom_writeback, "jira": s.jira_writeback,
                   "freshdesk": s.freshdesk_writeback},
        timeout_s=s.writeback_timeout_s,
        max_attempts=s.writeback_max_attempts,
    )  # fmt: skip


#: Modules whose types travel in the graph state; only these may be revived from a checkpoint.
STATE_MODULES = (
    "agent.schemas", "agent.signals", "agent.llm_tasks", "knowledge.schemas", "knowledge.jobs", "knowledge.reviews",
    "tools.customer",
)  # fmt: skip


def state_types() -> list[tuple[str, str]]:
    allowed = []
    for name in STATE_MODULES:
        module = importlib.import_module(name)
        allowed += [(name, attr) for attr, obj in vars(module).items()
                    if isinstance(obj, type) and obj.__module__ == name]  # fmt: skip
    return allowed


class ServiceRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.workspace = Workspace(settings)
        self.queue = JobQueue(
            self.workspace.history,
            max_attempts=settings.job_max_attempts,
            lease_s=settings.job_lease_s,
            retry_base_s=settings.job_retry_base_s,
        )
        self.reviews = ReviewBook(self.workspace.history)
        self.helpdesks = helpdesk_configs(settings)
        conn = sqlite3.connect(settings.checkpoints_path, check_same_thread=False, timeout=30)
        self.checkpointer = SqliteSaver(conn, serde=JsonPlusSerializer(allowed_msgpack_modules=state_types()))
        self.checkpointer.setup()
        self._context: TriageContext | None = None
        self._context_lock = threading.Lock()

    @cached_property
    def graph(self) -> CompiledStateGraph:
        return build_service_graph(self.checkpointer)

    @property
    def context(self) -> TriageContext:
        """Loads the local model (and LLM client) on first use, so intake-only processes stay light."""
        with self._context_lock:
            if self._context is None:
                context = self.workspace.context()
                context.job_max_attempts = self.settings.job_max_attempts
                self._context = context
            return self._context

    @property
    def loaded_context(self) -> TriageContext | None:
        """The triage context if something already loaded it; never loads it (health checks ask this)."""
        return self._context

    def close(self) -> None:
        self.checkpointer.conn.close()
        self.workspace.history.close()

    # --- intake ----------------------------------------------------------------------------------
    def enqueue_delivery(self, delivery: Delivery) -> EnqueueOutcome:
        if delivery.ticket is None:
            raise ValueError("a delivery without a ticket has nothing to triage")
        ticket = delivery.ticket
        job_id, created = self.queue.enqueue(
            NewJob(
                kind="triage",
                source=delivery.source,
                delivery_id=delivery.delivery_id,
                tenant=ticket.tenant,
                ticket_id=ticket.id,
                payload=ticket.model_dump_json(),
                content_key=stable_id(ticket.subject, ticket.body),
            )
        )
        return EnqueueOutcome(job_id=job_id, created=created)

    # --- work ------------------------------------------------------------------------------------
    def run(self, job: Job) -> None:
        """Run one claimed job to completion; exceptions go to the caller (the worker records them)."""
        if job.kind == "triage":
            self._triage(job)
        else:
            self._write_back(job)

    def _config(self, thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    def _triage(self, job: Job) -> None:
        ticket = Ticket.model_validate_json(job.payload)
        config = self._config(job.id)
        # A rerun after a crash starts clean: what an earlier attempt left in the checkpointer is not state.
        self.checkpointer.delete_thread(job.id)
        # Checkpoint only when the run stops: a paused review is saved, a crashed run reruns from the start.
        final = self.graph.invoke(
            {"ticket": ticket, "job": job.lease}, config=config, context=self.context, durability="exit"
        )
        if "__interrupt__" not in final:
            self.checkpointer.delete_thread(job.id)
            return
        # Opening this review superseded any older pending one of the ticket: its pause will never resume.
        for stale in self.reviews.list(state="superseded", tenant=ticket.tenant, ticket_id=ticket.id):
            self.checkpointer.delete_thread(stale.job_id)

    def _write_back(self, job: Job) -> None:
        action = WriteBackAction.model_validate_json(job.payload)
        try:
            outcome = apply_action(action, self.helpdesks)
        except WriteBackError as exc:
            detail = {"error": str(exc), "status": exc.status, "requests": [r.model_dump() for r in exc.requests]}
            self.workspace.history.audit("writeback_failed", detail, tenant=action.tenant, ticket_id=action.ticket_id)
            self.queue.fail(job.lease, f"WriteBackError: {exc}", retryable=exc.retryable)
            return
        self.queue.complete(job.lease, audit=("writeback", outcome.model_dump(mode="json")))

    # --- review ----------------------------------------------------------------------------------
    def review_detail(self, review: Review) -> dict[str, Any]:
        job = self.queue.get(review.job_id)
        return {
            "review": review.as_dict(),
            "ticket": Ticket.model_validate_json(job.payload).model_dump(mode="json") if job else None,
            "result": self.workspace.history.result_by_seq(review.result_seq),
        }

    def decide(self, review_id: str, decision: ReviewDecision) -> Review:
        """Resume the paused graph with the human's decision; the graph stores it and queues the reply."""
        review = self.reviews.get(review_id)
        if review is None:
            raise KeyError(review_id)
        if review.state != "pending":
            raise ReviewConflict.about(review_id, review.state, review.ticket_id, review.reviewer)
        config = self._config(review.job_id)
        snapshot = self.graph.get_state(config)
        if snapshot.interrupts:
            self.graph.invoke(Command(resume=decision.model_dump()), config=config, context=self.context)
        else:
            self._decide_without_checkpoint(review, decision, config)
        self.checkpointer.delete_thread(review.job_id)
        decided = self.reviews.get(review_id)
        assert decided is not None
        return decided

    def _decide_without_checkpoint(self, review: Review, decision: ReviewDecision, config: dict[str, Any]) -> None:
        """The worker died between storing the result and saving the pause: rebuild the paused state from the
        stored job and result, then run the same review step, so the decision is stored the one way."""
        job = self.queue.get(review.job_id)
        result = self.workspace.history.result_by_seq(review.result_seq)
        if job is None or result is None:
            raise KeyError(f"review {review.id}: its job or result is missing")
        ticket = Ticket.model_validate_json(job.payload)
        embedding = self.workspace.embedder.embed([model_text(ticket.subject, ticket.body)])[0]
        state = {
            "ticket": ticket,
            "job": JobLease(job_id=job.id, token="", attempt=job.attempts),
            "result": TriageResult.model_validate(result),
            "embedding": embedding.tolist(),
            "review": decision,
        }
        log.warning("review %s: no paused run in the checkpointer, resuming from the stored result", review.id)
        self.graph.update_state(config, state, as_node="await_review")
        self.graph.invoke(None, config=config, context=self.context)

"""Everything a service process holds: the workspace, the queue, the review book, the checkpointer and
the service graph, built once from settings. Web handlers and workers call this, never each other."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, ValidationError

from agent.batch import prefetch_or_none
from agent.graph import build_service_graph
from agent.local_model import ModelNotTrainedError
from agent.schemas import TriageResult
from agent.state import Prefetched, TriageContext
from config.components import Components
from config.settings import Settings
from insights.drift import drift, raise_alerts
from knowledge.assignments import AssignmentEvent, Assignments
from knowledge.escalations import EscalationBook
from knowledge.jobs import Job, JobLease, NewJob
from knowledge.reviews import Review, ReviewBook, ReviewConflict, ReviewDecision, ScheduledDecision
from knowledge.schemas import Ticket
from knowledge.text import ticket_model_text
from service import crm_notices
from service.checkpoints import open_checkpointer
from service.display import for_display, ticket_for_display
from service.followup import content_key, continue_thread, previous_ticket
from service.incident_actions import after_attach
from service.incident_notices import Notice, NoticeFailed, notify_incident, send_notice
from service.queue import JobQueue
from service.result_sink import JobSink
from service.retraining import due_after_labels, due_on_schedule
from service.review_context import ticket_context
from service.surge_feed import SurgeFeed
from service.webhooks.routes import EnqueueOutcome
from tools.helpdesk.actions import WriteBackAction, WriteBackOutcome
from tools.helpdesk.base import HelpdeskConfig
from tools.helpdesk.delivery import Delivery
from tools.helpdesk.errors import WriteBackError
from tools.helpdesk.normalise import validation_reason
from tools.helpdesk.registry import HelpdeskConfigs, apply_action

log = logging.getLogger(__name__)


class InvalidPayload(ValueError):
    """A job whose payload can never run (it fails validation): retrying cannot help, so it is dead at once."""


M = TypeVar("M", bound=BaseModel)


def _payload(job: Job, model: type[M]) -> M:
    try:
        return model.model_validate_json(job.payload)
    except ValidationError as exc:
        raise InvalidPayload(
            f"job {job.id}: its {model.__name__} does not validate: {validation_reason(exc)}"
        ) from None


class ServiceRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.components = Components(settings)
        self.queue = JobQueue(
            self.components.history,
            max_attempts=settings.job_max_attempts,
            lease_s=settings.job_lease_s,
            retry_base_s=settings.job_retry_base_s,
        )
        self.reviews = ReviewBook(self.components.history)
        self.escalations = EscalationBook(self.components.history)
        self.assignments = Assignments(self.components.history)
        self.helpdesks = HelpdeskConfigs.from_settings(settings)
        self.checkpointer, self._close_checkpointer = open_checkpointer(
            settings.database_url, settings.checkpoints_path
        )
        self._context: TriageContext | None = None
        self._context_lock = threading.Lock()

    @cached_property
    def surge(self) -> SurgeFeed:
        return SurgeFeed(self.components.surge, on_open=lambda found: notify_incident(self.components, found, "opened"),
                         on_attach=lambda found, member: after_attach(self.components, found, member))  # fmt: skip

    @cached_property
    def graph(self) -> CompiledStateGraph:
        return build_service_graph(self.checkpointer)

    @property
    def context(self) -> TriageContext:
        """Loads the local model (and LLM client) on first use, so intake-only processes stay light."""
        with self._context_lock:
            if self._context is None:
                self._context = self.components.context()
            return self._context

    @property
    def loaded_context(self) -> TriageContext | None:
        """The triage context if something already loaded it; never loads it (health checks ask this)."""
        return self._context

    def close(self) -> None:
        self._close_checkpointer()
        self.components.history.close()

    # --- intake ----------------------------------------------------------------------------------
    def enqueue_delivery(self, delivery: Delivery) -> EnqueueOutcome:
        if delivery.ticket is None:
            raise ValueError("a delivery without a ticket has nothing to triage")
        ticket = delivery.ticket
        if delivery.follow_up:  # the event carries part of the conversation at most; the last job knew more
            ticket = continue_thread(ticket, previous_ticket(self.queue.latest_payload(ticket.tenant, ticket.id)))
        job_id, created = self.queue.enqueue(
            NewJob(
                kind="triage",
                source=delivery.source,
                delivery_id=delivery.delivery_id,
                tenant=ticket.tenant,
                ticket_id=ticket.id,
                payload=ticket.model_dump_json(),
                content_key=content_key(ticket),
                customer_id=ticket.customer.id if ticket.customer else None,
            )
        )
        return EnqueueOutcome(job_id=job_id, created=created)

    def record_assignment(self, event: AssignmentEvent) -> bool:
        """A helpdesk's assignment/status event, into the open load; False when a newer one is stored."""
        return self.assignments.apply_event(event)

    # --- work ------------------------------------------------------------------------------------
    def run(self, job: Job, prefetched: Prefetched | None = None) -> None:
        """Run one claimed job to completion; exceptions go to the caller (the worker records them).
        `prefetched`: a triage job's inputs computed with its batch (`triage_inputs`)."""
        if job.kind == "triage":
            self._triage(job, prefetched)
        elif job.kind == "retrain":
            self._retrain(job)
        elif job.kind == "decision":
            self._apply_scheduled(job)
        elif job.kind == "notify":
            self._notify(job)
        else:
            self._write_back(job)

    def _config(self, thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}}

    def _context_for(self, job_id: str, lease: JobLease | None = None) -> TriageContext:
        """The shared triage context with this job's own sink (what the run stores goes with its job)."""
        context = self.context
        roster = context.routing.roster if context.routing is not None else None
        sink = JobSink(self.components.history, job_id, lease, self.settings.job_max_attempts, context.clock, roster,
                       person_label=self.settings.routing_person_label, assigns=self._assigning_helpdesks)  # fmt: skip
        return replace(context, sink=sink)

    @cached_property
    def _assigning_helpdesks(self) -> frozenset[str]:
        """The helpdesks whose assignment write-back is on (`CASEWORKER_<HELPDESK>_ASSIGN`)."""
        configs = self.helpdesks.configs.items()
        return frozenset(name for name, config in configs if isinstance(config, HelpdeskConfig) and config.assign)

    def triage_inputs(self, jobs: Sequence[Job]) -> list[Prefetched | None]:
        """The triage jobs' tickets embedded, searched and scored together (None for any other job, a payload
        that does not validate, or every job when the batch step fails: each then runs alone)."""
        tickets: dict[int, Ticket] = {}
        for i, job in enumerate(jobs):
            if job.kind == "triage":
                try:
                    tickets[i] = _payload(job, Ticket)
                except InvalidPayload:
                    continue  # its own run reports it
        out: list[Prefetched | None] = [None] * len(jobs)
        if tickets:
            for i, pre in zip(tickets, prefetch_or_none(list(tickets.values()), self.context), strict=True):
                out[i] = pre
        return out

    def _triage(self, job: Job, prefetched: Prefetched | None = None) -> None:
        ticket = _payload(job, Ticket)
        config = self._config(job.id)
        # A rerun after a crash starts clean: what an earlier attempt left in the checkpointer is not state.
        self.checkpointer.delete_thread(job.id)
        # Checkpoint only when the run stops: a paused review is saved, a crashed run reruns from the start.
        final = self.graph.invoke(
            {"ticket": ticket},
            config=config,
            context=replace(self._context_for(job.id, job.lease), prefetched=prefetched),
            durability="exit",
        )
        if "__interrupt__" not in final:
            self.checkpointer.delete_thread(job.id)
        # Storing this result superseded any older pending review of the ticket: its pause will never resume.
        for stale in self.reviews.list(state="superseded", tenant=ticket.tenant, ticket_id=ticket.id):
            self.checkpointer.delete_thread(stale.job_id)
        if self.settings.surge_enabled:  # after the job's transaction: never fails the triage (SurgeFeed logs)
            self.surge.observe(ticket, final.get("result"), final.get("embedding"))

    def _retrain(self, job: Job) -> None:
        """Rebuild the tenant's routing skill profiles (reviewers' assignee picks included) and train its candidate
        model through the gate; new profiles and a promotion reach every process by hot reload."""
        tenant = json.loads(job.payload)["tenant"]
        profiled = self.components.build_routing_profiles(tenant).get(tenant, 0)
        try:
            (report,) = self.components.train(tenant)
        except ModelNotTrainedError as exc:  # too little labelled history: retrying can't help
            self.queue.fail(job.lease, f"ModelNotTrainedError: {exc}", retryable=False)
            return
        self.queue.complete(job.lease, audit=("retrained", {"version": report.version, "promoted": report.promoted,
                                                           "reasons": report.reasons,
                                                           "routing_profiles": profiled}))  # fmt: skip

    def maintain(self) -> list[str]:
        """Between jobs: queue scheduled retrains and raise drift alerts (idempotent across workers)."""
        history, s = self.components.history, self.settings
        done = []
        for new in due_on_schedule(history, s.retrain_every_s):
            job_id, created = self.queue.enqueue(new)
            if created:
                done.append(f"queued {new.delivery_id} as {job_id}")
        for tenant in self.components.registry.tenants():
            rows = drift(history, self.components.registry, tenant, window=s.drift_window, threshold=s.drift_threshold)
            done += [f"drift alert: {r.tenant} {r.field} {r.view} PSI {r.psi}" for r in raise_alerts(history, rows)]
        return done

    def _notify(self, job: Job) -> None:
        """One outbound notice (an incident's, or the accounts list for a CRM); a receiver that is down is
        retried by the queue."""
        s = self.settings
        secret = s.incident_webhook_secret or s.webhook_secret
        try:
            if job.source == crm_notices.SOURCE:
                event = "accounts_notified"
                detail = crm_notices.send_accounts_notice(_payload(job, crm_notices.AccountsNotice),
                                                          crm_notices.crm_secret(self.components),
                                                          s.incident_notice_timeout_s)  # fmt: skip
            else:
                event = "incident_notified"
                detail = send_notice(_payload(job, Notice), secret.get_secret_value() if secret else None,
                                     s.incident_notice_timeout_s)  # fmt: skip
        except NoticeFailed as exc:
            self.queue.fail(job.lease, f"NoticeFailed: {exc}", retryable=exc.retryable)
            return
        self.queue.complete(job.lease, audit=(event, detail))

    def _write_back(self, job: Job) -> None:
        action = _payload(job, WriteBackAction)
        try:
            outcome = apply_action(action, self.helpdesks)
        except WriteBackError as exc:
            detail = {"error": str(exc), "status": exc.status, "requests": [r.model_dump() for r in exc.requests]}
            self.components.history.audit("writeback_failed", detail, tenant=action.tenant, ticket_id=action.ticket_id)
            self.queue.fail(job.lease, f"WriteBackError: {exc}", retryable=exc.retryable)
            return
        self.queue.complete(job.lease, audit=("writeback", outcome.model_dump(mode="json")))
        self._record_own_assignment(action, outcome)

    def _record_own_assignment(self, action: WriteBackAction, outcome: WriteBackOutcome) -> None:
        """Our own live assignment counts in the open load at once; the helpdesk's later events override it."""
        assignment, config = action.assignment, self.helpdesks.configs.get(action.source)
        if outcome.dry_run or assignment is None or assignment.agent_id is None or config is None:
            return
        if not isinstance(config, HelpdeskConfig) or not config.assignee(action)[0]:  # nobody was assigned
            return
        at = datetime.fromtimestamp(self.queue.clock(), UTC)
        own = {"tenant": action.tenant, "ticket_id": action.ticket_id, "assignee": assignment.agent_id, "at": at}
        self.assignments.apply_event(AssignmentEvent(source="caseworker", **own))

    # --- review ----------------------------------------------------------------------------------
    def review_detail(self, review: Review) -> dict[str, Any]:
        """The review, its ticket, result and customer context, every client text cleaned for display."""
        job = self.queue.get(review.job_id)
        ticket = Ticket.model_validate_json(job.payload) if job else None
        return {
            "review": for_display(review.as_dict()),
            "ticket": ticket_for_display(ticket.model_dump(mode="json")) if ticket else None,
            "result": for_display(self.components.history.result_by_seq(review.result_seq)),
            "context": for_display(ticket_context(self.components.history, ticket, self.helpdesks)) if ticket else None,
        }

    def decide(self, review_id: str, decision: ReviewDecision) -> Review:
        """Apply a rejection at once; schedule an approval to be applied after the undo window.

        Applying resumes the paused graph, which stores the decision and queues the reply. An approval is
        applied only after the window, by a `decision` job (see knowledge.reviews), so undoing it needs no
        rollback: the graph never resumed, no reply job exists, and the review is simply pending again.
        """
        review = self.reviews.get(review_id)
        if review is None:
            raise KeyError(review_id)
        if review.state != "pending":
            raise ReviewConflict.about(review_id, review.state, review.ticket_id, review.reviewer)
        window = self.settings.review_undo_s
        if decision.outcome != "rejected" and window > 0:
            attempts = self.settings.job_max_attempts
            return self.reviews.schedule(review_id, decision, window, attempts, self.queue.clock())
        self._resume(review, decision)
        decided = self.reviews.get(review_id)
        assert decided is not None
        return decided

    def undo(self, review_id: str, by: str | None) -> tuple[Review, ReviewDecision]:
        """Withdraw an approval still in its undo window (ReviewConflict once the window has closed)."""
        return self.reviews.undo(review_id, by, self.queue.clock())

    def _apply_scheduled(self, job: Job) -> None:
        """A `decision` job: apply the approval whose undo window has passed, once."""
        planned = ScheduledDecision.model_validate_json(job.payload)
        review = self.reviews.get(planned.review_id)
        if review is None or review.state != "scheduled" or review.undo_job_id != job.id:
            # Applied by an earlier attempt that died before completing this job; nothing is left to do.
            state = review.state if review else "missing"
            self.queue.complete(job.lease, audit=("decision_skipped", {"review_id": planned.review_id, "state": state}))
            return
        self._resume(review, planned.decision.model_copy(update={"scheduled_job": job.id}))
        self.queue.complete(job.lease, audit=("decision_applied", {"review_id": review.id}))

    def _resume(self, review: Review, decision: ReviewDecision) -> None:
        """Resume the paused graph with the decision; the graph stores it and queues the reply."""
        config = self._config(review.job_id)
        snapshot = self.graph.get_state(config)
        if snapshot.interrupts:
            context = self._context_for(review.job_id)
            self.graph.invoke(Command(resume=decision.model_dump()), config=config, context=context)
        else:
            self._decide_without_checkpoint(review, decision, config)
        self.checkpointer.delete_thread(review.job_id)
        retrain = due_after_labels(self.components.history, review.tenant, self.settings.retrain_after_labels)
        if retrain is not None:
            self.queue.enqueue(retrain)

    def _decide_without_checkpoint(self, review: Review, decision: ReviewDecision, config: dict[str, Any]) -> None:
        """The worker died between storing the result and saving the pause: rebuild the paused state from the
        stored job and result, then run the same review step, so the decision is stored the one way."""
        job = self.queue.get(review.job_id)
        result = self.components.history.result_by_seq(review.result_seq)
        if job is None or result is None:
            raise KeyError(f"review {review.id}: its job or result is missing")
        ticket = Ticket.model_validate_json(job.payload)
        embedding = self.components.embedder.embed([ticket_model_text(ticket)])[0]
        state = {
            "ticket": ticket,
            "result": TriageResult.model_validate(result),
            "embedding": embedding.tolist(),
            "review": decision,
        }
        log.warning("review %s: no paused run in the checkpointer, resuming from the stored result", review.id)
        self.graph.update_state(config, state, as_node="await_review")
        self.graph.invoke(None, config=config, context=self._context_for(review.job_id))

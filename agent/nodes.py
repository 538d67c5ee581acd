"""The triage graph's steps, one function per node. Each takes the state and the run's context and
returns only the keys it changes."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from agent.classify import finalize, llm_fields, local_predictions, predictions_of, uncertain_fields
from agent.drafting import escalation_packet, llm_brief, llm_draft
from agent.grounding import ground, grounding_article
from agent.llm import LLMError, LLMOutputError
from agent.llm_tasks import LabelledExample, LLMUsage, classify_with_llm
from agent.local_reply import local_draft
from agent.policy import PolicyInput, decide
from agent.schemas import (
    Action,
    Evidence,
    FieldPrediction,
    KBHit,
    Meta,
    Routing,
    RoutingCandidate,
    SimilarTicket,
    Sla,
    TriageResult,
)
from agent.signals import detect_signals
from agent.state import TriageContext, TriageState
from agent.text import detect_language
from knowledge.text import MODEL_TEXT_CHARS, SUBJECT_CHARS, clean_text, earlier_messages, model_view, window
from knowledge.tokens import estimate_tokens
from tools.customer import customer_context
from tools.routing.policy import Pick, RoutingFacts
from tools.routing.profiles import skill_values

_EXCERPT_CHARS = 400


def _elapsed(state: TriageState, step: str, started: float) -> dict[str, Any]:
    timings = dict(state.get("timings_ms") or {})
    timings[step] = round((time.perf_counter() - started) * 1000, 2)
    return timings


def prepare(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    started = time.perf_counter()
    ctx = runtime.context
    ticket = state["ticket"]
    now = ctx.clock()
    # Every step below reads a bounded window of the body (knowledge/text.py), never all of it: a
    # megabyte of log must cost a worker no more than a short ticket does. The body stays stored whole.
    cleaned = clean_text(ticket.body)
    # A follow-up: its latest message leads, the customer's earlier messages (newest first) are context.
    earlier = earlier_messages(ticket)
    text = model_view(ticket.subject, cleaned, earlier)
    raw = "\n\n".join([ticket.text, *(m.body for m in ticket.thread)])
    language = (ticket.language.lower(), 1.0, "given") if ticket.language else (*detect_language(text), "rule")
    return {
        "started": started,
        "now": now,
        # Drafting and the LLM prompts get the head and tail of the customer's words, as much as a model reads.
        "clean_text": window(cleaned, head=MODEL_TEXT_CHARS, tail=MODEL_TEXT_CHARS // 4),
        "model_text": text,
        "ticket_tokens": estimate_tokens(raw),
        "language": language,
        # Signals read the whole cleaned window (and the thread): a threat after a long paste still counts.
        "signals": detect_signals("\n\n".join([ticket.subject[:SUBJECT_CHARS], cleaned, *earlier]), raw=raw),
        "customer": customer_context(ctx.history, ticket, now),
        "timings_ms": _elapsed(state, "prepare", started),
    }


def retrieve(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    started = time.perf_counter()
    ctx = runtime.context
    ticket = state["ticket"]
    pre = ctx.prefetched
    found = (
        pre.retrieval
        if pre is not None and pre.model_text == state["model_text"]
        else ctx.retriever.retrieve(state["model_text"], ticket.tenant, ctx.k_tickets, ctx.k_kb, exclude_id=ticket.id)
    )
    best = max(found.max_ticket_similarity, found.max_kb_similarity)
    evidence = Evidence(
        similar_tickets=[
            SimilarTicket(
                id=hit.id,
                score=round(hit.score, 4),
                subject=hit.subject,
                labels=hit.labels,
                resolution_excerpt=(hit.reply or "")[:_EXCERPT_CHARS] or None,
            )
            for hit in found.tickets
        ],
        kb_articles=[
            KBHit(
                article_id=hit.article_id,
                chunk_id=hit.chunk_id,
                title=hit.title,
                score=round(hit.score, 4),
                excerpt=hit.text[:_EXCERPT_CHARS],
                category=hit.category,
            )
            for hit in found.kb
        ],
        max_ticket_similarity=round(found.max_ticket_similarity, 4),
        max_kb_similarity=round(found.max_kb_similarity, 4),
        novelty=round(min(max(1.0 - best, 0.0), 1.0), 4),
        novel=best < ctx.policy.novelty_similarity,
    )
    return {
        "embedding": found.embedding.tolist(),
        "evidence": evidence,
        "similar_replies": {hit.id: hit.reply for hit in found.tickets if hit.reply},
        "similar_texts": {hit.id: hit.text for hit in found.tickets},
        "kb_texts": {hit.chunk_id: hit.text for hit in found.kb},
        "timings_ms": _elapsed(state, "retrieve", started),
    }


def classify(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    started = time.perf_counter()
    ctx = runtime.context
    ticket = state["ticket"]
    model = ctx.local_model(ticket.tenant)
    pre = ctx.prefetched
    if (
        pre is not None
        and model is not None
        and pre.guesses is not None
        and pre.model_version == model.version
        and pre.model_text == state["model_text"]
    ):
        local = predictions_of(pre.guesses)  # scored with its batch (a model promoted since is not used)
    else:
        local = local_predictions(model, state["model_text"], np.asarray(state["embedding"], dtype=np.float32))
    usage = LLMUsage()
    answers: dict[str, FieldPrediction] = {}
    notes: list[str] = []
    saved = 0
    if ctx.llm is not None and ctx.mode != "local":
        fields = llm_fields(model)
        wanted = (
            list(fields)
            if ctx.mode == "llm"
            else uncertain_fields(local, fields, ctx.cascade_threshold, ctx.cascade_fields)
        )
        saved = int(not wanted)
        if wanted:
            examples = [
                LabelledExample(text=state["similar_texts"].get(t.id, t.subject), labels=t.labels, score=t.score)
                for t in state["evidence"].similar_tickets
            ]
            try:
                got = classify_with_llm(
                    ctx.llm,
                    ticket_text=state["model_text"],
                    fields={name: fields[name] for name in wanted},
                    descriptions=_descriptions(ctx),
                    examples=examples,
                    usage=usage,
                    ticket_id=ticket.id,
                    tenant=ticket.tenant,
                )
                answers = {
                    name: FieldPrediction.of(value, confidence, "llm") for name, (value, confidence) in got.items()
                }
            except LLMOutputError as error:
                notes.append(f"LLM answer unusable, local model used: {error}")
            except LLMError as error:
                notes.append(f"LLM unavailable, local model used: {error}")
    classification = finalize(
        local=local,
        llm=answers,
        model_trained=model is not None,
        unlearned=dict((model.meta.get("skipped_fields") or {}) if model else {}),
        taxonomy=ctx.taxonomy,
        text=state["model_text"],
        language=state["language"],
        signals=state["signals"],
        recent_tickets=state["customer"].tickets_last_30_days,
        high_value=state["customer"].is_high_value(ctx.policy.high_value_mrr),
        notes=notes,
    )
    if any(note.startswith("LLM answer unusable") for note in notes):
        classification = classification.model_copy(update={"needs_review": True})
    agree = not ("category" in answers and "category" in local and answers["category"].value != local["category"].value)
    return {
        "classification": classification,
        "category_agreement": agree,
        "model_version": model.version if model else "rules-only",
        "llm_usage": usage,
        "llm_saved": saved,
        "timings_ms": _elapsed(state, "classify", started),
    }


def _descriptions(ctx: TriageContext) -> dict[str, dict[str, str]]:
    if ctx.taxonomy is None:
        return {}
    return {
        "category": {name: spec.description for name, spec in ctx.taxonomy.categories.items()},
        "queue": {name: spec.description for name, spec in ctx.taxonomy.queues.items()},
    }


def decide_action(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    started = time.perf_counter()
    ctx = runtime.context
    classification = state["classification"]
    evidence = state["evidence"]
    customer = state["customer"]
    grounding = grounding_article(evidence, classification.category.value if classification.category else None)
    grounded = ground(evidence, classification.category, ctx.policy).article is not None
    facts = PolicyInput(
        priority=classification.priority.value,
        category=classification.category.value if classification.category else None,
        sentiment=classification.sentiment.value,
        churn_risk=classification.churn_risk.value,
        confidences={name: p.confidence for name, p in classification.predictions().items()},
        signals=state["signals"],
        repeat_contact=customer.repeat_contact,
        high_value_customer=customer.is_high_value(ctx.policy.high_value_mrr),
        max_ticket_similarity=evidence.max_ticket_similarity,
        max_kb_similarity=evidence.max_kb_similarity,
        grounding_kb_similarity=grounding.score if grounding else 0.0,
        grounded=grounded,
        needs_review=classification.needs_review,
        category_agreement=state.get("category_agreement", True),
    )
    ticket = state["ticket"]
    due = ctx.sla.due(classification.priority.value, ticket.created_at or state["now"], state["now"])
    return {
        "decision": decide(facts, ctx.policy),
        "sla": Sla(**due.model_dump()),
        "timings_ms": _elapsed(state, "decide", started),
    }


def route(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Suggest who should work the ticket (None without a roster for the ticket's tenant)."""
    started = time.perf_counter()
    ctx = runtime.context
    if ctx.routing is None:
        return {"routing": None}
    ticket, classification = state["ticket"], state["classification"]
    predicted = {
        name: [p.value]
        for name, p in (
            ("queue", classification.queue),
            ("category", classification.category),
            ("type", classification.type),
        )
        if p is not None
    }
    customer = ticket.customer
    facts = RoutingFacts(
        now=state["now"],
        embedding=state.get("embedding"),
        text=state["model_text"],
        skills={**predicted, **skill_values(ticket)},  # values the helpdesk gave win over predicted ones
        queue=classification.queue.value if classification.queue else None,
        language=classification.language.value,
        escalated=state["decision"].action == Action.ESCALATE,
        high_value=state["customer"].is_high_value(ctx.policy.high_value_mrr),
        requester=frozenset(i for i in (customer.id if customer else None, ticket.extra.get("requester_email")) if i),
    )
    decision = ctx.routing.route(ticket.tenant, facts)
    if decision is None:
        return {"routing": None, "timings_ms": _elapsed(state, "route", started)}
    candidates = [_candidate(pick) for pick in decision.picks]
    routing = Routing(
        team=decision.team,
        assignee=candidates[0] if candidates else None,
        alternatives=candidates[1:3],
        ranked=decision.ranked,
        rule=decision.rule,  # type: ignore[arg-type]
        note=decision.note,
        candidates=decision.candidates,
    )
    return {"routing": routing, "timings_ms": _elapsed(state, "route", started)}


def _candidate(pick: Pick) -> RoutingCandidate:
    return RoutingCandidate.model_validate(
        {"agent_id": pick.agent_id, "name": pick.name, "score": pick.score, "parts": pick.parts,
         "qualified": pick.qualified, "reason": pick.reason}
    )  # fmt: skip


def route_after_decision(state: TriageState) -> str:
    return "escalate" if state["decision"].action == Action.ESCALATE else "draft"


def _writes_with_llm(state: TriageState, ctx: TriageContext) -> bool:
    """llm mode always writes with the LLM; cascade only for tickets the local model could not settle."""
    if ctx.llm is None or ctx.mode == "local":
        return False
    return ctx.mode == "llm" or state["llm_usage"].calls > 0


def draft(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    started = time.perf_counter()
    ctx = runtime.context
    usage = state["llm_usage"]
    drafted, versions = local_draft(state, ctx.policy, ctx.signoff)
    if _writes_with_llm(state, ctx):
        written = llm_draft(state, ctx, usage)
        if written is not None:
            drafted, versions = written, {}
    return {
        "draft": drafted,
        "escalation": None,
        "prompt_versions": versions,
        "llm_usage": usage,
        "timings_ms": _elapsed(state, "draft", started),
    }


def escalate(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    started = time.perf_counter()
    ctx = runtime.context
    usage = state["llm_usage"]
    packet, versions = escalation_packet(state, ctx)
    if _writes_with_llm(state, ctx):
        packet = llm_brief(state, ctx, packet, usage)
    return {
        "escalation": packet,
        "draft": None,
        "prompt_versions": versions,
        "llm_usage": usage,
        "timings_ms": _elapsed(state, "escalate", started),
    }


def record(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    ctx = runtime.context
    ticket = state["ticket"]
    model_version = state.get("model_version") or "rules-only"
    usage = state["llm_usage"]
    if usage.calls and ctx.llm is not None:
        model_version = f"{ctx.llm.model} + {model_version}"
    result = TriageResult(
        ticket_id=ticket.id,
        tenant=ticket.tenant,
        triaged_at=state["now"],
        classification=state["classification"],
        evidence=state["evidence"],
        decision=state["decision"],
        draft=state.get("draft"),
        escalation=state.get("escalation"),
        routing=state.get("routing"),
        sla=state["sla"],
        meta=Meta(
            mode=ctx.mode,  # type: ignore[arg-type]
            model=model_version,
            embedding_model=ctx.retriever.embedder.model_id,
            prompt_versions={**usage.prompt_versions, **(state.get("prompt_versions") or {})},
            tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out,
            cost_usd=round(usage.cost_usd, 6),
            llm_calls=usage.calls,
            llm_calls_saved=state.get("llm_saved", 0),
            latency_ms=round((time.perf_counter() - state["started"]) * 1000, 2),
            ticket_tokens=state["ticket_tokens"],
        ),
    )
    audit = {
        "ticket_hash": ticket.content_hash(),
        "action": result.decision.action.value,
        "reason": result.decision.reason,
        "mode": ctx.mode,
        "model": model_version,
        "embedding_model": ctx.retriever.embedder.model_id,
        "prompt_versions": result.meta.prompt_versions,
        "signals": [str(s) for s in state["signals"]],
        "timings_ms": state.get("timings_ms") or {},
    }
    ctx.result_sink.store_result(ticket, result, audit)
    return {"result": result}

"""The triage graph's steps, one function per node. Each takes the state and the run's context and
returns only the keys it changes."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from langgraph.runtime import Runtime

from agent.classify import classify_ticket
from agent.drafting import escalation_packet, grounding_article, local_draft
from agent.policy import PolicyInput, decide
from agent.schemas import Action, Evidence, KBHit, Meta, SimilarTicket, Sla, TriageResult
from agent.signals import detect_signals
from agent.state import TriageContext, TriageState
from agent.text import clean_text, detect_language, model_text
from knowledge.embeddings import MODEL_ID as EMBEDDING_MODEL_ID
from knowledge.tokens import count_tokens
from tools.customer import customer_context

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
    cleaned = clean_text(ticket.body)
    text = model_text(ticket.subject, ticket.body)
    language = (ticket.language.lower(), 1.0, "given") if ticket.language else (*detect_language(text), "rule")
    return {
        "started": started,
        "now": now,
        "clean_text": cleaned,
        "model_text": text,
        "ticket_tokens": count_tokens(ticket.text),
        "language": language,
        "signals": detect_signals(text),
        "customer": customer_context(ctx.history, ticket, now),
        "timings_ms": _elapsed(state, "prepare", started),
    }


def retrieve(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    started = time.perf_counter()
    ctx = runtime.context
    ticket = state["ticket"]
    found = ctx.retriever.retrieve(state["model_text"], ticket.tenant, ctx.k_tickets, ctx.k_kb, exclude_id=ticket.id)
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
        "kb_texts": {hit.chunk_id: hit.text for hit in found.kb},
        "timings_ms": _elapsed(state, "retrieve", started),
    }


def classify(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    started = time.perf_counter()
    classification = classify_ticket(
        model=runtime.context.local_model,
        taxonomy=runtime.context.taxonomy,
        text=state["model_text"],
        embedding=np.asarray(state["embedding"], dtype=np.float32),
        language=state["language"],
        signals=state["signals"],
        repeat_contact=state["customer"].repeat_contact,
    )
    return {"classification": classification, "timings_ms": _elapsed(state, "classify", started)}


def decide_action(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    started = time.perf_counter()
    ctx = runtime.context
    classification = state["classification"]
    evidence = state["evidence"]
    customer = state["customer"]
    grounding = grounding_article(evidence, classification.category.value if classification.category else None)
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
        needs_review=classification.needs_review,
    )
    ticket = state["ticket"]
    due = ctx.sla.due(classification.priority.value, ticket.created_at or state["now"], state["now"])
    return {
        "decision": decide(facts, ctx.policy),
        "sla": Sla(**due.model_dump()),
        "timings_ms": _elapsed(state, "decide", started),
    }


def route_after_decision(state: TriageState) -> str:
    return "escalate" if state["decision"].action == Action.ESCALATE else "draft"


def draft(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    started = time.perf_counter()
    drafted, versions = local_draft(state, signoff=runtime.context.signoff)
    return {
        "draft": drafted,
        "escalation": None,
        "prompt_versions": versions,
        "timings_ms": _elapsed(state, "draft", started),
    }


def escalate(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    started = time.perf_counter()
    packet, versions = escalation_packet(state, runtime.context)
    return {
        "escalation": packet,
        "draft": None,
        "prompt_versions": versions,
        "timings_ms": _elapsed(state, "escalate", started),
    }


def record(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    ctx = runtime.context
    ticket = state["ticket"]
    model_version = ctx.local_model.version if ctx.local_model else "rules-only"
    result = TriageResult(
        ticket_id=ticket.id,
        tenant=ticket.tenant,
        triaged_at=state["now"],
        classification=state["classification"],
        evidence=state["evidence"],
        decision=state["decision"],
        draft=state.get("draft"),
        escalation=state.get("escalation"),
        sla=state["sla"],
        meta=Meta(
            mode="local",
            model=model_version,
            embedding_model=EMBEDDING_MODEL_ID,
            prompt_versions=state.get("prompt_versions") or {},
            latency_ms=round((time.perf_counter() - state["started"]) * 1000, 2),
            ticket_tokens=state["ticket_tokens"],
        ),
    )
    payload = result.model_dump(mode="json")
    ctx.history.record_result(
        payload,
        audit_detail={
            "ticket_hash": ticket.content_hash(),
            "action": payload["decision"]["action"],
            "reason": payload["decision"]["reason"],
            "mode": ctx.mode,
            "model": model_version,
            "embedding_model": EMBEDDING_MODEL_ID,
            "prompt_versions": payload["meta"]["prompt_versions"],
            "signals": [str(s) for s in state["signals"]],
            "timings_ms": state.get("timings_ms") or {},
        },
    )
    return {"result": result}

"""The LLM-written reply, and the context packet for an escalation (extractive, or LLM-summarised).
Template text comes from files under prompts/; local-mode replies are in agent/local_reply.py."""

from __future__ import annotations

import re

from agent.llm import LLMError
from agent.llm_tasks import DraftTools, LLMUsage, Source, brief_with_llm, draft_with_llm
from agent.markdown_text import markdown_to_text
from agent.schemas import Citation, DecisionReason, Draft, Escalation
from agent.state import TriageContext, TriageState
from prompts.loader import render

_TEAM_HINTS: dict[DecisionReason, tuple[str, ...]] = {
    DecisionReason.SECURITY: ("security", "trust", "abuse"),
    DecisionReason.LEGAL: ("legal", "privacy", "compliance"),
    DecisionReason.DATA_LOSS: ("reliab", "incident", "sre", "engineering"),
    DecisionReason.P0_INCIDENT: ("reliab", "incident", "sre", "ops"),
    DecisionReason.CHURN_RISK_HIGH_VALUE: ("success", "account"),
    DecisionReason.ANGRY_REPEAT_CONTACT: ("success", "account"),
}
# "What the customer already tried": sentences holding one of these words. Sentences are cut first
# (one pass, each character read once) and the words searched inside each: a single pattern that
# scans for the sentence around a word restarts at every position and is quadratic on a long line.
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_TRIED = re.compile(
    r"\b(tried|already|restarted|reinstalled|cleared|re-?installed|rebooted|followed|checked|logged out|reset)\b",
    re.IGNORECASE,
)
_MAX_TRIED = 5
_TRIED_CHARS = 300
_SUMMARY_CHARS = 240


def _suggested_teams(state: TriageState, reason: DecisionReason, ctx: TriageContext) -> tuple[str, str | None]:
    classification = state["classification"]
    queue = classification.queue
    ranked = [label for label, _ in (queue.alternatives if queue else [])] or ([queue.value] if queue else [])
    model = ctx.local_model(state["ticket"].tenant)
    known = list(model.fields.get("queue", [])) if model else []
    for hint in _TEAM_HINTS.get(reason, ()):
        match = next((name for name in known if hint in name.lower()), None)
        if match:
            secondary = next((name for name in ranked if name != match), None)
            return match, secondary
    primary = ranked[0] if ranked else "triage"
    return primary, ranked[1] if len(ranked) > 1 else None


def customer_tried(text: str) -> list[str]:
    """Up to five sentences of `text` that say what the customer already tried; a sentence longer
    than 300 characters is cut to the 300 around the word that matched."""
    tried: list[str] = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group(0).strip()
        if found := _TRIED.search(sentence):
            start = max(0, min(found.start() - _TRIED_CHARS // 2, len(sentence) - _TRIED_CHARS))
            tried.append(sentence[start : start + _TRIED_CHARS])
            if len(tried) == _MAX_TRIED:
                break
    return tried


def _summary(state: TriageState) -> str:
    # Only the first sentence is kept, so only the start of the text is read.
    first = re.split(r"(?<=[.!?])\s+", state["clean_text"].strip()[: _SUMMARY_CHARS * 2], maxsplit=1)[0]
    return f"{state['ticket'].subject.strip()[:_SUMMARY_CHARS]}: {first[:_SUMMARY_CHARS]}".strip()


def escalation_packet(state: TriageState, ctx: TriageContext) -> tuple[Escalation, dict[str, str]]:
    decision = state["decision"]
    classification = state["classification"]
    evidence = state["evidence"]
    customer = state["customer"]
    sla = state["sla"]
    primary, secondary = _suggested_teams(state, decision.reason, ctx)
    tried = customer_tried(state["clean_text"])
    similar = [f"{t.id} ({t.score:.2f})" for t in evidence.similar_tickets[:3]]
    leads = [f"{a.article_id} {a.title} ({a.score:.2f})" for a in evidence.kb_articles[:3]]
    fields = ", ".join(f"{name}={p.value} ({p.confidence:.2f})" for name, p in classification.predictions().items())
    customer_line = ", ".join(
        part
        for part in (
            customer.name or customer.customer_id or "unknown customer",
            f"tier {customer.tier}" if customer.tier else "",
            f"MRR {customer.mrr:,.0f}" if customer.mrr is not None else "",
            f"{customer.tickets_last_30_days} ticket(s) in the last 30 days",
        )
        if part
    )
    context = render(
        "escalation_context",
        reason_text=f"{decision.reason.value} — {decision.explanation}",
        customer_line=customer_line,
        classification_line=fields,
        first_response_due=sla.first_response_due.isoformat(),
        resolution_due=sla.resolution_due.isoformat(),
        at_risk=" (AT RISK)" if sla.at_risk else "",
        similar_cases=", ".join(similar) or "none",
        kb_leads=", ".join(leads) or "none",
        customer_tried="; ".join(tried) or "nothing stated",
    )
    packet = Escalation(
        reason=decision.reason,
        summary=_summary(state),
        context_for_agent=context.text.strip(),
        suggested_team=primary,
        secondary_team=secondary,
        similar_cases=[t.id for t in evidence.similar_tickets],
        kb_leads=[a.article_id for a in evidence.kb_articles],
        customer_tried=tried,
    )
    return packet, {context.name: context.version}


def llm_draft(state: TriageState, ctx: TriageContext, usage: LLMUsage) -> Draft | None:
    """A reply the LLM writes from the retrieved KB chunks and past resolutions; None falls back to
    the template draft (no LLM, no source above the grounding bar, an invalid answer, or citations
    outside the given sources). Sources below the bar are never shown, so they can never be cited."""
    assert ctx.llm is not None
    evidence = state["evidence"]
    classification = state["classification"]
    category = classification.category
    min_score = ctx.policy.grounding_threshold(category.value if category else None)
    replies = state.get("similar_replies", {})
    kb = [a for a in evidence.kb_articles if a.score >= min_score]
    tickets = [t for t in evidence.similar_tickets if t.id in replies and t.score >= min_score]
    kinds = {a.article_id: "kb" for a in kb} | {t.id: "ticket" for t in tickets}
    sources = [
        Source(id=a.article_id, title=a.title, text=state["kb_texts"].get(a.chunk_id, a.excerpt), score=a.score)
        for a in kb
    ] + [Source(id=t.id, title=f"Resolved ticket: {t.subject}", text=replies[t.id], score=t.score) for t in tickets]
    if not sources:
        return None
    sources.sort(key=lambda s: s.score, reverse=True)  # the budget drops the least similar first
    label = ", ".join(f"{name}={p.value}" for name, p in classification.predictions().items() if name != "language")
    ticket = state["ticket"]
    found: dict[str, Source] = {s.id: s for s in sources}
    try:
        reply = draft_with_llm(
            ctx.llm,
            ticket_text=f"{ticket.subject}\n\n{state['clean_text']}",
            classification=label,
            sources=sources,
            usage=usage,
            ticket_id=ticket.id,
            tenant=ticket.tenant,
            tools=_draft_tools(state, ctx, min_score, found, kinds),
        )
    except LLMError:
        return None
    citations = [
        Citation(
            kind="kb" if kinds.get(cid) == "kb" else "ticket", id=cid, title=found[cid].title, score=found[cid].score
        )
        for cid in dict.fromkeys(reply.citations)
        if cid in found
    ]
    decision = state["decision"]
    note = f"LLM draft by {ctx.llm.model} ({decision.action.value}: {decision.reason.value}); check it before sending."
    return Draft(body=markdown_to_text(reply.body.strip()), citations=citations, internal_note=note)


def _draft_tools(
    state: TriageState, ctx: TriageContext, min_score: float, found: dict[str, Source], kinds: dict[str, str]
) -> DraftTools:
    """Look-ups for the drafting model, all bound to this ticket's tenant (never another's), returning only
    sources at or above the grounding bar; what they return is recorded in `found` (and its kind in `kinds`)
    so a citation of a looked-up source maps back to its title and score."""
    ticket = state["ticket"]
    customer = state["customer"]

    def keep(hits: list[Source], kind: str) -> list[Source]:
        kept = [h for h in hits if h.score >= min_score]
        for h in kept:
            found.setdefault(h.id, h)
            kinds.setdefault(h.id, kind)
        return kept

    def search_kb(query: str) -> list[Source]:
        hits = ctx.retriever.search_kb(query, ticket.tenant, ctx.k_kb)
        return keep([Source(id=h.article_id, title=h.title, text=h.text, score=h.score) for h in hits], "kb")

    def similar_tickets(query: str) -> list[Source]:
        vector = ctx.retriever.embedder.embed([query])[0]
        hits = ctx.retriever.store.similar_tickets(vector, ticket.tenant, ctx.k_tickets, exclude_id=ticket.id)
        sources = [
            Source(id=h.id, title=f"Resolved ticket: {h.subject}", text=h.reply or "", score=h.score)
            for h in hits
            if h.reply
        ]
        return keep(sources, "ticket")

    def account() -> str:
        return (
            f"tier={customer.tier or 'unknown'}, mrr={customer.mrr if customer.mrr is not None else 'unknown'}, "
            f"tickets in the last 30 days={customer.tickets_last_30_days}"
        )

    return DraftTools(search_kb=search_kb, similar_tickets=similar_tickets, customer=account)


def llm_brief(state: TriageState, ctx: TriageContext, packet: Escalation, usage: LLMUsage) -> Escalation:
    """The escalation packet with an LLM-written summary; the extractive one stays on any failure."""
    assert ctx.llm is not None
    ticket = state["ticket"]
    try:
        brief = brief_with_llm(
            ctx.llm,
            ticket_text=f"{ticket.subject}\n\n{state['clean_text']}",
            reason=f"{packet.reason.value}: {state['decision'].explanation}",
            usage=usage,
            ticket_id=ticket.id,
            tenant=ticket.tenant,
        )
    except LLMError:
        return packet
    tried = [item.strip() for item in brief.customer_tried if item.strip()][:8] or packet.customer_tried
    return packet.model_copy(update={"summary": brief.summary.strip(), "customer_tried": tried})

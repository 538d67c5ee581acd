"""Local-mode replies from templates: an answer from the KB article the ticket is grounded in, or, when
no article matches well enough (agent/grounding.py), a holding reply that acknowledges the request, asks
the one question that would resolve it and says who follows up. Plain text in both cases.
"""

from __future__ import annotations

from functools import lru_cache

from agent.grounding import Grounding, ground
from agent.markdown_text import markdown_to_text
from agent.policy import PolicyConfig
from agent.reply_wording import calm_subject, customer_question, greeting_name, phrases_for, question_kind, team_name
from agent.schemas import Citation, Draft, KBHit
from agent.state import TriageState
from prompts.loader import Phrasebook, render

_NEGATIVE = frozenset({"negative", "very_negative"})


@lru_cache(maxsize=512)
def _article_text(markdown: str) -> str:
    # A helpdesk's tickets are grounded in the same few dozen KB chunks over and over: parse each once.
    return markdown_to_text(markdown)


def strip_title(chunk_text: str, title: str) -> str:
    # Chunks carry their article title as a first line so they embed well alone; a reply doesn't need it.
    lines = chunk_text.strip().splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip("# ").strip() == title.strip()):
        lines.pop(0)
    return "\n".join(lines).strip()


def _greeting(state: TriageState, phrases: Phrasebook) -> str:
    name = greeting_name(state["customer"].name, state["ticket"].body)
    return phrases("greeting", name=name) if name else phrases("greeting_anonymous")


def _upset(state: TriageState) -> bool:
    return state["classification"].sentiment.value in _NEGATIVE


def _opening(state: TriageState, phrases: Phrasebook) -> str:
    """Repeat the subject back only when it is calm and the customer isn't upset; never an empty one."""
    if _upset(state):
        return phrases("opening_sorry")
    subject = calm_subject(state["ticket"].subject)
    return phrases("opening_subject", subject=subject) if subject else phrases("opening")


def _similar_line(state: TriageState, min_score: float) -> tuple[Citation | None, str]:
    evidence = state["evidence"]
    replies = state.get("similar_replies", {})
    similar = next((t for t in evidence.similar_tickets if t.id in replies and t.score >= min_score), None)
    if similar is None:
        return None, ""
    citation = Citation(kind="ticket", id=similar.id, title=similar.subject, score=similar.score)
    line = f"Closest resolved case {similar.id} (match {similar.score:.2f}) was answered with:\n{replies[similar.id]}"
    return citation, line


def local_draft(state: TriageState, policy: PolicyConfig, signoff: str) -> tuple[Draft, dict[str, str]]:
    classification = state["classification"]
    grounding = ground(state["evidence"], classification.category, policy)
    phrases = phrases_for(state["language"][0] if state.get("language") else None)
    if grounding.article is None:
        return _holding_reply(state, policy, grounding, phrases, signoff)
    return _grounded_reply(state, policy, grounding.article, phrases, signoff)


def _grounded_reply(
    state: TriageState, policy: PolicyConfig, article: KBHit, phrases: Phrasebook, signoff: str
) -> tuple[Draft, dict[str, str]]:
    decision = state["decision"]
    category = state["classification"].category
    answer = _article_text(strip_title(state["kb_texts"].get(article.chunk_id, article.excerpt), article.title))
    body = render(
        "local_draft",
        greeting=_greeting(state, phrases),
        opening=_opening(state, phrases),
        answer_intro=phrases("answer_intro"),
        answer=answer,
        article_link=phrases("article_link", title=article.title, article_id=article.article_id),
        closing=phrases("closing"),
        farewell=phrases("farewell"),
        signoff=signoff,
    )
    similar, similar_line = _similar_line(state, policy.grounding_threshold(category.value if category else None))
    note = render(
        "local_internal_note",
        action=decision.action.value,
        reason=decision.reason.value,
        article_id=article.article_id,
        article_title=article.title,
        article_score=f"{article.score:.2f}",
        similar_case=similar_line,
    )
    citations = [Citation(kind="kb", id=article.article_id, title=article.title, score=article.score)]
    citations += [similar] if similar else []
    versions = {body.name: body.version, note.name: note.version, phrases.name: phrases.version}
    return Draft(body=body.text, citations=citations, internal_note=note.text.strip()), versions


def _holding_reply(
    state: TriageState, policy: PolicyConfig, grounding: Grounding, phrases: Phrasebook, signoff: str
) -> tuple[Draft, dict[str, str]]:
    """No source answers it: acknowledge in the customer's words, ask one question, say who follows up.
    Nothing is cited, so nothing below the grounding bar can reach the customer as an answer."""
    classification = state["classification"]
    decision = state["decision"]
    evidence = state["evidence"]
    question = customer_question(state["clean_text"])
    thanks = phrases("thanks_sorry" if _upset(state) else "thanks")
    acknowledgement = f"{thanks} {phrases('you_asked', question=question) if question else phrases('received')}"
    kind = question_kind(
        classification.category, classification.queue, state["clean_text"], policy.grounding_min_confidence
    )
    team = team_name(classification.queue, policy.grounding_min_confidence)
    body = render(
        "local_holding_reply",
        greeting=_greeting(state, phrases),
        acknowledgement=acknowledgement,
        question=phrases(f"question_{kind}"),
        follow_up=phrases("follow_up_team", team=team) if team else phrases("follow_up"),
        farewell=phrases("farewell"),
        signoff=signoff,
    )
    _, similar_line = _similar_line(state, 0.0)
    leads = [f"{a.article_id} '{a.title}' ({a.score:.2f})" for a in evidence.kb_articles[:3]]
    note = render(
        "local_holding_note",
        action=decision.action.value,
        reason=decision.reason.value,
        grounding_note=grounding.note or "no source matched",
        question_kind=kind,
        leads=", ".join(leads) or "none",
        similar_case=similar_line,
    )
    draft = Draft(
        body=body.text,
        citations=[],
        internal_note=note.text.strip(),
        grounded=False,
        grounding_note=grounding.note,
    )
    return draft, {body.name: body.version, note.name: note.version, phrases.name: phrases.version}

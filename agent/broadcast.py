"""One reply for every member of an accepted incident, grounded in the KB like a ticket's draft.

The incident is described by its label and its first members' texts; the KB is searched with that, and an
article at or above the grounding bar (agent/policy.py) answers it. With an LLM, the existing drafting task
(agent/llm_tasks.draft_with_llm: structured, retried, budgeted, audited) writes the reply from the sources
above the bar; without one, or when it fails, the `local_broadcast` template quotes the best article. With
no article above the bar the draft is a holding reply (`local_broadcast_holding`): the incident is known and
being worked on, nothing is claimed. Plain text, like every draft; the lead edits it before it goes out.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from agent.llm import LLMClient, LLMError
from agent.llm_tasks import LLMUsage, Source, draft_with_llm
from agent.local_reply import strip_title
from agent.markdown_text import markdown_to_text
from agent.policy import PolicyConfig
from agent.reply_wording import phrases_for
from knowledge.store import ChunkHit
from prompts.loader import render
from tools.retrieval import Retriever

#: How much of the members' texts describes the incident (each text is the observed 500 characters at most).
MAX_EXAMPLES = 5


class BroadcastDraft(BaseModel):
    body: str
    grounded: bool
    citations: list[dict[str, object]] = Field(default_factory=list)
    note: str
    prompt_versions: dict[str, str] = Field(default_factory=dict)


def incident_text(label: str, texts: Sequence[str]) -> str:
    examples = "\n".join(f"- {' '.join(t.split())}" for t in texts[:MAX_EXAMPLES])
    return f"Several customers report the same problem ({label}). What they wrote:\n{examples}"


def draft_broadcast(retriever: Retriever, policy: PolicyConfig, *, tenant: str, incident_id: str, label: str,
                    category: str | None, texts: Sequence[str], signoff: str, k: int = 3,
                    llm: LLMClient | None = None) -> BroadcastDraft:  # fmt: skip
    query = f"{label}\n" + "\n".join(texts[:MAX_EXAMPLES])
    bar = policy.grounding_threshold(category)
    hits = [h for h in retriever.search_kb(query[:4000], tenant, k) if h.score >= bar]
    if llm is not None and hits:
        drafted = _llm_draft(llm, hits, tenant=tenant, incident_id=incident_id, label=label, texts=texts)
        if drafted is not None:
            return drafted
    phrases = phrases_for("en")
    values = {"label": label, "farewell": phrases("farewell"), "signoff": signoff}
    if not hits:
        body = render_prompt("local_broadcast_holding", values)
        note = f"No KB article reached the grounding bar {bar:.2f}: a holding reply, nothing is claimed."
        return BroadcastDraft(body=body[0], grounded=False, note=note, prompt_versions=body[1])
    best = hits[0]
    answer = markdown_to_text(strip_title(best.text, best.title))
    body = render_prompt("local_broadcast", {
        **values, "answer_intro": phrases("answer_intro"), "answer": answer, "closing": phrases("closing"),
        "article_link": phrases("article_link", title=best.title, article_id=best.article_id),
    })  # fmt: skip
    citation = {"kind": "kb", "id": best.article_id, "title": best.title, "score": round(best.score, 4)}
    note = f"Template reply quoting KB article {best.article_id} '{best.title}' (match {best.score:.2f})."
    return BroadcastDraft(body=body[0], grounded=True, citations=[citation], note=note, prompt_versions=body[1])


def render_prompt(name: str, values: dict[str, object]) -> tuple[str, dict[str, str]]:
    rendered = render(name, **values)
    return rendered.text, {rendered.name: rendered.version}


def _llm_draft(llm: LLMClient, hits: Sequence[ChunkHit], *, tenant: str, incident_id: str, label: str,
               texts: Sequence[str]) -> BroadcastDraft | None:  # fmt: skip
    sources = [Source(id=h.article_id, title=h.title, text=h.text, score=h.score) for h in hits]
    usage = LLMUsage()
    try:
        reply = draft_with_llm(llm, ticket_text=incident_text(label, texts), classification=f"incident: {label}",
                               sources=sources, usage=usage, ticket_id=incident_id, tenant=tenant)  # fmt: skip
    except LLMError:
        return None
    found = {s.id: s for s in sources}
    citations = [{"kind": "kb", "id": c, "title": found[c].title, "score": round(found[c].score, 4)}
                 for c in dict.fromkeys(reply.citations) if c in found]  # fmt: skip
    return BroadcastDraft(body=markdown_to_text(reply.body.strip()), grounded=True, citations=citations,
                          note=f"LLM draft by {llm.model}; check it before sending.",
                          prompt_versions=usage.prompt_versions)  # fmt: skip

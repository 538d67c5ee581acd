"""Whether a reply may rest on a KB article, and why not when it may not. Deterministic, no model in it.

A draft cites an article only when the article is about the ticket's (predicted) category, matches the
ticket closely enough for that category, and the category itself is believable: either the classifier
is confident, or retrieval agrees on its own (the closest article overall is of that category).
Everything else gets a holding reply instead of an answer to a question nobody asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.policy import PolicyConfig
from agent.schemas import Evidence, FieldPrediction, KBHit


@dataclass(frozen=True)
class Grounding:
    """The article to answer from, or None with the reason a reviewer reads ("no grounded answer")."""

    article: KBHit | None
    note: str | None = None


def grounding_article(evidence: Evidence, category: str | None) -> KBHit | None:
    """The article a reply would rest on: the best one of the ticket's category when the KB is
    categorised (a close article about something else is no answer), else the best overall."""
    if not evidence.kb_articles:
        return None
    if category and any(a.category for a in evidence.kb_articles):
        return next((a for a in evidence.kb_articles if a.category == category), None)
    return evidence.kb_articles[0]


def _describe(hit: KBHit) -> str:
    category = f", category {hit.category}" if hit.category else ""
    return f"{hit.article_id} '{hit.title}'{category}"


def ground(evidence: Evidence, category: FieldPrediction | None, policy: PolicyConfig) -> Grounding:
    label = category.value if category else None
    confidence = category.confidence if category else 0.0
    conf_text = f"category confidence {confidence:.2f}"
    best = evidence.kb_articles[0] if evidence.kb_articles else None
    if best is None:
        return Grounding(None, "no KB article was retrieved for this ticket")
    article = grounding_article(evidence, label)
    if article is None:
        return Grounding(
            None,
            f"no KB article of category {label} among the {len(evidence.kb_articles)} closest; best match "
            f"{best.score:.2f} ({_describe(best)}); {conf_text}",
        )
    threshold = policy.grounding_threshold(label)
    if article.score < threshold:
        return Grounding(
            None,
            f"best KB match {article.score:.2f} ({_describe(article)}) is below {threshold:.2f} "
            f"for category {label or '(none)'}; {conf_text}",
        )
    categorised = article.category is not None
    if confidence < policy.grounding_min_confidence and categorised and best.category != article.category:
        return Grounding(
            None,
            f"{conf_text} is below {policy.grounding_min_confidence:.2f} and the closest KB article "
            f"({_describe(best)}, {best.score:.2f}) is about something else than {_describe(article)}",
        )
    return Grounding(article)

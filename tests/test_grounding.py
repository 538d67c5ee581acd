"""The grounding rule on hand-built evidence: which article a draft may cite, and the note when none."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.grounding import ground, grounding_article
from agent.policy import PolicyConfig
from agent.schemas import Evidence, FieldPrediction, KBHit

POLICY = PolicyConfig(grounding_min_similarity=0.45, grounding_min_confidence=0.5)


def hit(article_id: str, score: float, category: str | None, title: str = "") -> KBHit:
    return KBHit(
        article_id=article_id,
        chunk_id=f"{article_id}#0",
        title=title or article_id,
        score=score,
        excerpt="",
        category=category,
    )


def evidence(*hits: KBHit) -> Evidence:
    return Evidence(kb_articles=list(hits), novelty=0.0, novel=False)


def category(value: str, confidence: float) -> FieldPrediction:
    return FieldPrediction.of(value, confidence, "local")


def test_the_issue_case_a_weak_article_of_another_category_is_never_cited() -> None:
    found = evidence(hit("KB-12", 0.19, "data_export", "Export to PDF"))
    g = ground(found, category("refund_request", 0.08), POLICY)
    assert g.article is None
    assert g.note is not None and "KB-12 'Export to PDF'" in g.note and "0.19" in g.note
    assert "refund_request" in g.note and "category confidence 0.08" in g.note


def test_an_article_of_the_category_below_the_bar_gives_the_score_and_the_bar() -> None:
    g = ground(evidence(hit("KB-13", 0.41, "refund_request", "Refund policy")), category("refund_request", 0.9), POLICY)
    assert g.article is None
    assert g.note == (
        "best KB match 0.41 (KB-13 'Refund policy', category refund_request) is below 0.45 for category "
        "refund_request; category confidence 0.90"
    )


def test_a_strong_article_of_the_confident_category_grounds() -> None:
    found = evidence(hit("KB-1", 0.70, "password_reset"), hit("KB-2", 0.50, "account_security"))
    assert ground(found, category("password_reset", 0.9), POLICY).article == found.kb_articles[0]


def test_the_category_article_is_chosen_over_a_closer_one_about_something_else() -> None:
    found = evidence(hit("KB-2", 0.70, "account_security"), hit("KB-1", 0.60, "password_reset"))
    g = ground(found, category("password_reset", 0.9), POLICY)
    assert g.article is not None and g.article.article_id == "KB-1"


def test_an_unsure_category_needs_retrieval_to_agree() -> None:
    disagree = evidence(hit("KB-2", 0.70, "account_security"), hit("KB-1", 0.60, "password_reset"))
    g = ground(disagree, category("password_reset", 0.3), POLICY)
    assert g.article is None and g.note is not None and "category confidence 0.30 is below 0.50" in g.note
    agree = evidence(hit("KB-1", 0.60, "password_reset"), hit("KB-2", 0.50, "account_security"))
    assert ground(agree, category("password_reset", 0.3), POLICY).article is not None


def test_per_category_bar_overrides_the_default() -> None:
    strict = POLICY.model_copy(update={"grounding_min_similarity_by_category": {"refund_request": 0.6}})
    found = evidence(hit("KB-13", 0.55, "refund_request"))
    assert ground(found, category("refund_request", 0.9), POLICY).article is not None
    g = ground(found, category("refund_request", 0.9), strict)
    assert g.article is None and g.note is not None and "below 0.60" in g.note


def test_uncategorised_kb_grounds_on_the_best_article_by_score_alone() -> None:
    found = evidence(hit("KB-9", 0.50, None), hit("KB-8", 0.30, None))
    assert grounding_article(found, "billing") == found.kb_articles[0]
    assert ground(found, category("billing", 0.1), POLICY).article == found.kb_articles[0]
    assert ground(evidence(hit("KB-9", 0.40, None)), category("billing", 0.9), POLICY).article is None


def test_no_article_at_all() -> None:
    g = ground(evidence(), category("billing", 0.9), POLICY)
    assert g.article is None and g.note == "no KB article was retrieved for this ticket"


def test_policy_rejects_a_per_category_bar_outside_zero_to_one() -> None:
    with pytest.raises(ValidationError, match="grounding_min_similarity_by_category"):
        PolicyConfig(grounding_min_similarity_by_category={"billing": 1.5})

"""Who a reply greets, what it repeats back, which question a holding reply asks and who follows up."""

from __future__ import annotations

import pytest

from agent.reply_wording import calm_subject, customer_question, greeting_name, phrases_for, question_kind, team_name
from agent.schemas import FieldPrediction


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ana María López", "Ana"),  # the first word: compound given names can't be told from surnames
        ("López, Ana", "Ana"),
        ("Dr. Ana López", "Ana"),
        ("ANNA REYES", "Anna"),
        ("ruth", "Ruth"),
        ("Ludwig van Beethoven", "Ludwig"),
        ("Two Oaks PTA", None),  # an account name, not a person
        ("Redwood Dental Partners", None),
        ("Müller & Söhne Maschinenbau", None),
        ("jane.doe@example.com", None),
        ("", None),
        (None, None),
    ],
)
def test_greeting_name_from_the_customer_name(name: str | None, expected: str | None) -> None:
    assert greeting_name(name, "no sign-off here") == expected


@pytest.mark.parametrize(
    "body",
    [
        "How do I reset it?\n\nThanks,\nAnna Reyes\nFinance Lead | Crescent Bookkeeping",
        "How do I reset it?\n-- Anna, Crescent Bookkeeping",
        "How do I reset it?\n\nCheers!\nanna",
        "How do I reset it?\n\nBest regards, Anna Reyes",
        "Wie setze ich es zurück?\n\nMit freundlichen Grüßen\nAnna Reyes",
    ],
)
def test_the_name_the_customer_signed_with_wins(body: str) -> None:
    assert greeting_name("Crescent Bookkeeping", body) == "Anna"


def test_a_sign_off_without_a_name_falls_back_to_the_customer_name() -> None:
    assert greeting_name("Ana López", "Help please.\n\nThanks\nSent from my iPhone") == "Ana"
    assert greeting_name("Acme Logistics", "Help please.\n\nRegards,\nThe Finance Team") is None


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("October invoice PDF", "October invoice PDF"),
        ("Re: AW: [Ticket #12] Export to Excel", "Export to Excel"),
        ("P0: boards not loading", "boards not loading"),
        ("", None),
        ("   ", None),
        ("THIRD TIME asking about my refund!!!", None),
        ("Still broken!", None),
        ("WHY IS NOTHING WORKING", None),
        ("Jira sync duplicating tasks again — THIRD time, we are done", None),
        ("a" * 81, None),
    ],
)
def test_calm_subject(subject: str, expected: str | None) -> None:
    assert calm_subject(subject) == expected


def test_customer_question_is_the_first_calm_short_question() -> None:
    text = "Hello. Our display died. WHY DOES THIS ALWAYS HAPPEN?? Is it under warranty and where do I send it?"
    assert customer_question(text) == "Is it under warranty and where do I send it?"
    assert customer_question("No question here.") is None


def conf(value: str, confidence: float) -> FieldPrediction:
    return FieldPrediction.of(value, confidence, "local")


@pytest.mark.parametrize(
    ("category", "queue", "text", "kind"),
    [
        (conf("refund_request", 0.9), conf("billing", 0.9), "Please refund me.", "billing"),
        (conf("refund_request", 0.9), None, "Please refund invoice INV-20931.", "billing_outcome"),
        (conf("refund_request", 0.9), None, "You charged us $3,120 twice.", "billing_outcome"),
        (conf("sso_login", 0.9), None, "", "access"),
        (conf("api_auth", 0.9), None, "", "integration"),
        (conf("mobile_sync", 0.9), None, "", "product"),
        (conf("refund_request", 0.2), conf("account_access", 0.8), "", "access"),  # unsure category: the queue
        (conf("refund_request", 0.2), conf("billing", 0.3), "", "generic"),  # unsure of both
        (conf("gdpr_request", 0.9), conf("privacy_legal", 0.9), "", "generic"),  # no mapping
        (None, None, "", "generic"),
    ],
)
def test_question_kind(category: FieldPrediction | None, queue: FieldPrediction | None, text: str, kind: str) -> None:
    assert question_kind(category, queue, text, 0.5) == kind


def test_every_question_kind_has_a_phrase_in_every_language() -> None:
    kinds = {"billing", "billing_outcome", "access", "integration", "product", "generic"}
    for language in ("en", "de", "fr", "es"):
        book = phrases_for(language)
        assert book.name == f"reply_{language}"
        for kind in kinds:
            assert book(f"question_{kind}").strip()
        assert set(book.phrases) == set(phrases_for("en").phrases), language


def test_unknown_language_falls_back_to_english() -> None:
    assert phrases_for("nl").name == "reply_en" and phrases_for(None).name == "reply_en"


def test_team_name_only_from_a_confident_queue() -> None:
    assert team_name(conf("technical_support", 0.9), 0.5) == "Technical Support"
    assert team_name(conf("technical_support", 0.4), 0.5) is None
    assert team_name(None, 0.5) is None

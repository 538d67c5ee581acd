"""Ticket text preparation: what the model sees is the customer's own new words."""

from __future__ import annotations

import pytest

from agent.text import detect_language
from knowledge.text import clean_text, model_text


def test_quoted_reply_and_signature_are_dropped() -> None:
    body = (
        "Hi team,\n\nThe export still fails with error 500.\nI tried twice.\n\n"
        "Best regards,\nAnna Reyes\nFinance Lead\n\n"
        "On Tue, 14 Oct 2026 at 09:12, Flowbase Support <support@flowbase.example> wrote:\n"
        "> Please try the export again.\n"
    )
    assert clean_text(body) == "The export still fails with error 500.\nI tried twice."


def test_inline_quotes_are_dropped_but_new_text_kept() -> None:
    body = "> earlier message\n> more\nStill broken after the update.\nSent from my iPhone"
    assert clean_text(body) == "Still broken after the update."


def test_a_body_that_is_only_a_quote_is_kept_rather_than_emptied() -> None:
    assert clean_text("> just a quote") == "> just a quote"


@pytest.mark.parametrize(
    ("line", "dropped"),
    [("Hi Flowbase,", True), ("Dear Support Team,", True), ("Hello!", True), ("Guten Tag,", True),
     ("Hey, my board is gone", False), ("hi, new laptop and my browser lost my password", False)],
)  # fmt: skip
def test_greetings(line: str, dropped: bool) -> None:
    cleaned = clean_text(f"{line}\nThe actual issue.")
    assert (cleaned == "The actual issue.") is dropped


def test_model_text_joins_subject_and_clean_body() -> None:
    assert model_text(" Login broken ", "Hi,\nCannot log in.\n--\nBob") == "Login broken\n\nCannot log in."


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("I cannot log in to my account since this morning", "en"),
        ("Ich kann mich seit heute Morgen nicht mehr anmelden", "de"),
        ("Je ne peux plus me connecter à mon compte depuis ce matin", "fr"),
        ("No puedo iniciar sesión en mi cuenta desde esta mañana", "es"),
    ],
)
def test_language(text: str, language: str) -> None:
    code, confidence = detect_language(text)
    assert code == language and 0 < confidence <= 1


def test_language_of_nothing_is_undetermined() -> None:
    assert detect_language("  ?? ") == ("und", 0.0)

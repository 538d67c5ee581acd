"""Ticket text preparation: strip quoted replies and signatures, detect the language."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from py3langid.langid import LanguageIdentifier, _load_identifier

from knowledge.schemas import Ticket

#: Languages a helpdesk typically sees; restricting the identifier makes short texts far more reliable.
SUPPORTED_LANGUAGES = (
    "en",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "sv",
    "da",
    "no",
    "fi",
    "pl",
    "cs",
    "tr",
    "ru",
    "ja",
    "zh",
    "ko",
)

_QUOTE_HEADER = re.compile(
    r"^\s*(On .{0,200}wrote:|Am .{0,200}schrieb .{0,100}:|Le .{0,200}a écrit\s?:|El .{0,200}escribió:|"
    r"-{2,}\s*Original Message\s*-{2,}|From: .+)\s*$",
    re.IGNORECASE,
)
_SIGNATURE_START = re.compile(
    r"^\s*(--\s*|Sent from my \w+.*|Best( regards)?,?|Kind regards,?|Regards,?|Thanks( again)?,?|Thank you,?|"
    r"Cheers,?|Mit freundlichen Grüßen,?|Viele Grüße,?|Cordialement,?|Saludos,?|Un saludo,?)\s*$",
    re.IGNORECASE,
)


_GREETING = re.compile(
    r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening)|hallo|guten (morgen|tag)|liebes?|bonjour|"
    r"salut|hola|buenos días|buenas)\b(\s*[,!:]?\s*|([\s,]+[\w.'-]+){1,3}\s*[,:]\s*)$",
    re.IGNORECASE,
)


def clean_text(text: str) -> str:
    """The customer's own new words: quoted history and sign-offs removed, whitespace tidied.

    Falls back to the original when cleaning would leave nothing (a ticket that is only a quote).
    """
    kept: list[str] = []
    lines = text.splitlines()
    # A salutation line ("Hi Flowbase team,") says nothing about the issue.
    while lines and (not lines[0].strip() or _GREETING.match(lines[0])):
        lines.pop(0)
    for line in lines:
        if _QUOTE_HEADER.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        if _SIGNATURE_START.match(line) and len(kept) >= 1:
            break
        kept.append(line.rstrip())
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return cleaned or text.strip()


#: Earlier messages of a thread are context, read after the latest one: each is cut to this before cleaning.
EARLIER_MESSAGE_CHARS = 2_000
EARLIER_MESSAGES = 5


def model_text(subject: str, body: str, earlier: Sequence[str] = ()) -> str:
    """The text the embedder and classifier see: the subject and the customer's own new words, then, for a
    follow-up, the customer's earlier messages (`earlier`, newest first) as context after them."""
    parts = [subject.strip(), clean_text(body)]
    parts += [clean_text(text[:EARLIER_MESSAGE_CHARS]) for text in earlier[:EARLIER_MESSAGES] if text.strip()]
    return "\n\n".join(part for part in parts if part).strip()


def ticket_model_text(ticket: Ticket) -> str:
    """`model_text` of a ticket, its thread included: what prepare embeds and the store indexes."""
    earlier = [m.body for m in reversed(ticket.thread) if m.author == "customer"]
    return model_text(ticket.subject, ticket.body, earlier)


@cache
def _identifier() -> LanguageIdentifier:
    return _load_identifier(norm_probs=True, langs=list(SUPPORTED_LANGUAGES))


def detect_language(text: str) -> tuple[str, float]:
    """ISO 639-1 code and its probability; ("und", 0.0) when there is no text to judge."""
    if not re.search(r"\w{2,}", text):
        return "und", 0.0
    language, probability = _identifier().classify(text)
    return str(language), float(probability)

"""What text a ticket stands for: the customer's own new words (quoted replies and signatures stripped) and
the bounded view the embedder, the classifiers and the vector store all read.

Every step here reads a bounded window of the ticket, never the whole body: a helpdesk accepts
bodies up to a megabyte (logs, pasted threads), while the models read a few hundred tokens. The full
body stays stored on the ticket; only what each step looks at is cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from knowledge.schemas import Ticket

#: The part of a body that cleaning reads: its head, where a reply puts the customer's new words, and
#: its tail, where a long paste (log, stack trace) is often followed by the actual ask or threat.
#: Risk signals read all of it; the models read far less (`MODEL_TEXT_CHARS`).
WINDOW_HEAD_CHARS = 32_000
WINDOW_TAIL_CHARS = 4_000
#: What the embedder and classifiers see: the embedder reads 256 tokens, the local model's text
#: features 4,000 characters (agent/features.py), and an LLM prompt stays within a few thousand tokens.
MODEL_TEXT_CHARS = 6_000
SUBJECT_CHARS = 500
#: Greetings, quote headers and sign-offs are short lines; a longer line is content, and is not
#: handed to the line rules at all (they would only spend time on it).
_MARKER_LINE_CHARS = 300
_ELISION = "\n[…]\n"

_QUOTE_HEADER = re.compile(
    r"^\s*(On .{0,200}wrote:|Am .{0,200}schrieb .{0,100}:|Le .{0,200}a écrit\s?:|El .{0,200}escribió:|"
    r"-{2,}\s*Original Message\s*-{2,}|From: .+)\s*$",
    re.IGNORECASE,
)
_SIGNATURE_START = re.compile(
    r"^\s*(--|Sent from my \w+.*|Best( regards)?,?|Kind regards,?|Regards,?|Thanks( again)?,?|Thank you,?|"
    r"Cheers,?|Mit freundlichen Grüßen,?|Viele Grüße,?|Cordialement,?|Saludos,?|Un saludo,?)\s*$",
    re.IGNORECASE,
)


_GREETING = re.compile(
    r"^\s*(hi|hello|hey|dear|good (morning|afternoon|evening)|hallo|guten (morgen|tag)|liebes?|bonjour|"
    r"salut|hola|buenos días|buenas)\b(\s*+[,!:]?\s*|([\s,]+[\w.'-]+){1,3}\s*[,:]\s*)$",
    re.IGNORECASE,
)


def window(text: str, head: int = WINDOW_HEAD_CHARS, tail: int = WINDOW_TAIL_CHARS) -> str:
    """`text` itself when short; else its first `head` and last `tail` characters around a marker.

    Cuts fall on a line break (or a space) near the limit when there is one, so no step sees half a word.
    """
    if len(text) <= head + tail + len(_ELISION):
        return text
    start = text[:head]
    cut = max(start.rfind("\n", head - 500), start.rfind(" ", head - 100))
    start = start[:cut] if cut > 0 else start
    end = text[len(text) - tail :] if tail else ""
    cut = end.find("\n", 0, 500)
    end = end[cut + 1 :] if cut >= 0 else end
    return f"{start}{_ELISION}{end}"


def _marker(pattern: re.Pattern[str], line: str) -> bool:
    return len(line) <= _MARKER_LINE_CHARS and pattern.match(line) is not None


def clean_text(text: str) -> str:
    """The customer's own new words: quoted history and sign-offs removed, whitespace tidied.

    Reads `window(text)` only. Falls back to that window when cleaning would leave nothing (a ticket
    that is only a quote).
    """
    text = window(text)
    kept: list[str] = []
    lines = text.splitlines()
    # A salutation line ("Hi Flowbase team,") says nothing about the issue.
    start = 0
    while start < len(lines) and (not lines[start].strip() or _marker(_GREETING, lines[start])):
        start += 1
    for line in lines[start:]:
        if _marker(_QUOTE_HEADER, line):
            break
        if line.lstrip().startswith(">"):
            continue
        if kept and _marker(_SIGNATURE_START, line):
            break
        kept.append(line.rstrip())
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return cleaned or text.strip()


#: Earlier messages of a thread are context, read after the latest one: each is cut to this before cleaning.
EARLIER_MESSAGE_CHARS = 2_000
EARLIER_MESSAGES = 5


def model_view(subject: str, cleaned: str, earlier: Sequence[str] = ()) -> str:
    """The embedder's and classifiers' text: the subject, the customer's own new words (already cleaned),
    then for a follow-up the customer's earlier messages (cleaned, newest first) as context, all bounded."""
    body = "\n\n".join(part for part in (cleaned, *earlier) if part)
    return f"{subject.strip()[:SUBJECT_CHARS]}\n\n{body[:MODEL_TEXT_CHARS]}".strip()


def model_text(subject: str, body: str) -> str:
    """The text the embedder and classifier see: the subject and the customer's own new words."""
    return model_view(subject, clean_text(body))


def earlier_messages(ticket: Ticket) -> list[str]:
    """The customer's earlier messages of a thread, newest first, each cut and cleaned."""
    messages = [m.body for m in reversed(ticket.thread) if m.author == "customer" and m.body.strip()]
    return [clean_text(body[:EARLIER_MESSAGE_CHARS]) for body in messages[:EARLIER_MESSAGES]]


def ticket_model_text(ticket: Ticket, cleaned: str | None = None) -> str:
    """`model_text` of a ticket, its thread included: what prepare embeds and the store indexes."""
    latest = clean_text(ticket.body) if cleaned is None else cleaned
    return model_view(ticket.subject, latest, earlier_messages(ticket))

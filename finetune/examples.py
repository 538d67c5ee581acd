"""From one history ticket to chat examples: filters, targets (human review first), scrubbing,
rendering with the prompt files, and fitting into the token limit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from agent.schemas import CHURN_RISKS, SENTIMENTS
from finetune.chat import ChatExample, ChatMessage
from finetune.pii import Scrubber, ScrubSession
from finetune.schemas import BuildOptions, ReviewOutcome, Task
from knowledge.history import History
from knowledge.schemas import PRIORITIES, STANDARD_LABELS, Ticket
from knowledge.text import clean_text, model_text
from knowledge.tokens import count_tokens, truncate_tokens
from prompts.loader import render, version

PROMPTS: dict[Task, tuple[str, str]] = {
    "classify": ("finetune_classify_system", "finetune_classify_user"),
    "reply": ("finetune_reply_system", "finetune_reply_user"),
}
REVIEW_EVENT = "review"
_SCALES: dict[str, tuple[str, ...]] = {"priority": PRIORITIES, "sentiment": SENTIMENTS, "churn_risk": CHURN_RISKS}
_FIELD_ORDER = (*STANDARD_LABELS, "language")
_MIN_BODY_TOKENS = 16  # below this a trimmed ticket no longer says what the issue is: drop instead

# Auto-replies and bounces are machine text: they teach nothing about triage or answering.
_AUTO_REPLY = re.compile(
    r"(?i)\b(?:auto(?:matic)?[ -]?reply|auto(?:matic)?[ -]?response|out of (?:the )?office|"
    r"abwesenheits(?:notiz|meldung)|automatische antwort|réponse automatique|absence du bureau|"
    r"respuesta automática|fuera de la oficina|risposta automatica|"
    r"delivery status notification|undeliver(?:able|ed mail)|mail delivery (?:failed|subsystem)|"
    r"returned mail|mailer-daemon|this is an automated (?:message|response|reply)|"
    r"do not reply to this (?:e-?mail|message)|i am (?:currently )?(?:out of|away from) the office|"
    r"ich bin (?:derzeit |zurzeit )?nicht im büro)"
)


class KBHitLike(Protocol):
    article_id: str
    title: str
    text: str


#: (ticket embedding, tenant, k) → the KB chunks the graph would retrieve, best first.
EvidenceFn = Callable[..., Sequence[KBHitLike]]


def load_reviews(history: History) -> dict[tuple[str, str], ReviewOutcome]:
    """The latest review of each ticket, from the history's audit log (event `review`)."""
    reviews: dict[tuple[str, str], ReviewOutcome] = {}
    for row in history.audit_rows():
        if row["event"] == REVIEW_EVENT and row["ticket_id"]:
            reviews[(row["tenant"], row["ticket_id"])] = ReviewOutcome.model_validate(row["detail"])
    return reviews


def _same_text(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@dataclass
class Targets:
    labels: dict[str, str]
    reply: str | None
    label_source: str | None
    reply_source: str | None
    reply_skip: str | None = None
    dropped_fields: int = 0


def targets_for(ticket: Ticket, review: ReviewOutcome | None, options: BuildOptions) -> Targets:
    """What the model should learn to answer for this ticket. Model output is never a target:
    a stored TriageResult is ignored; the ticket's own labels and reply, or a human review, are. The thread id
    and `options.exclude_fields` (who resolved the ticket) are never targets."""
    skip = {options.thread_field, *options.exclude_fields}
    labels = {k: v for k, v in ticket.trainable_labels().items() if k not in skip}
    if ticket.language:
        labels.setdefault("language", ticket.language.lower())
    label_source = "ticket" if labels else None
    if review is not None and review.labels:
        corrected = {k: v for k, v in review.labels.items() if v and k not in skip}
        if any(labels.get(k) != v for k, v in corrected.items()):
            label_source = "review_correction"
        labels.update(corrected)
    dropped = 0
    for name, scale in _SCALES.items():
        if name in labels and labels[name] not in scale:
            del labels[name]
            dropped += 1
    ordered = {k: labels[k] for k in _FIELD_ORDER if k in labels}
    ordered.update({k: labels[k] for k in sorted(labels) if k not in ordered})

    reply, reply_source, skip = ticket.reply if ticket.is_resolved else None, "ticket", None
    if review is not None and review.outcome in ("approved", "edited") and review.reply and review.reply.strip():
        reply, reply_source = review.reply, f"review_{review.outcome}"
    elif (
        review is not None
        and review.outcome == "rejected"
        and (review.draft is None or _same_text(reply, review.draft))
    ):
        # The reply on record may be the very draft that was rejected; only a different, human reply counts.
        reply, skip = None, "review_rejected"
    if reply is None:
        reply_source = None
        skip = skip or "no_reply"
    return Targets(ordered, reply, label_source if ordered else None, reply_source, skip, dropped)


def ticket_filter(ticket: Ticket, targets: Targets, options: BuildOptions) -> str | None:
    """Why this ticket makes no example at all, or None. The first reason that applies is counted."""
    if targets.reply is None and targets.reply_skip != "review_rejected":
        return "unresolved"
    if _AUTO_REPLY.search(ticket.subject) or _AUTO_REPLY.search(ticket.body[:2000]):
        return "auto_reply"
    if count_tokens(model_text(ticket.subject, ticket.body)) < options.min_tokens:
        return "too_short"
    if options.split == "time" and ticket.created_at is None:
        return "no_created_at"
    return None


@dataclass
class Candidate:
    """A ticket that passed the filters, scrubbed; the unit that is deduplicated and split."""

    ticket: Ticket
    targets: Targets
    subject: str
    body: str
    reply: str | None
    session: ScrubSession
    examples: dict[Task, ChatExample] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return f"{self.subject}\n\n{self.body}".strip()

    @property
    def created_at(self) -> datetime | None:
        value = self.ticket.created_at
        return None if value is None else value if value.tzinfo else value.replace(tzinfo=UTC)


def scrub_candidate(ticket: Ticket, targets: Targets, scrubber: Scrubber) -> Candidate:
    """Scrub before anything else sees the text; the body is cleaned of quotes/signatures after."""
    known = [ticket.customer.name] if ticket.customer and ticket.customer.name else []
    texts = [ticket.subject, ticket.body, *([targets.reply] if targets.reply else [])]
    session = scrubber.session(texts, known)
    subject, body = session.scrub(ticket.subject.strip()), session.scrub(ticket.body)
    reply = session.scrub(targets.reply.strip()) if targets.reply else None
    return Candidate(ticket, targets, subject, clean_text(body), reply, session)


def field_catalogue(values: Mapping[str, Iterable[str]]) -> str:
    """The taxonomy the classify system prompt lists: one line per field with its values."""
    lines = []
    for name in (*[f for f in _FIELD_ORDER if f in values], *sorted(set(values) - set(_FIELD_ORDER))):
        quoted = ", ".join(json.dumps(v, ensure_ascii=False) for v in sorted(set(values[name])))
        lines.append(f'- "{name}": one of {quoted}')
    return "\n".join(lines)


def prompt_versions(tasks: Iterable[Task]) -> dict[str, str]:
    return {name: version(name) for task in tasks for name in PROMPTS[task]}


def _messages(task: Task, system_values: Mapping[str, str], user_values: Mapping[str, str], answer: str) -> ChatExample:
    system_name, user_name = PROMPTS[task]
    return ChatExample(
        messages=[
            ChatMessage(role="system", content=render(system_name, **system_values).text.strip()),
            ChatMessage(role="user", content=render(user_name, **user_values).text.strip()),
            ChatMessage(role="assistant", content=answer.strip()),
        ]
    )


@dataclass(frozen=True)
class Fitted:
    example: ChatExample | None
    trimmed: bool = False


def _fit(
    make: Callable[[list[str], str], ChatExample], evidence: list[str], body: str, options: BuildOptions
) -> Fitted:
    example = make(evidence, body)
    if example.tokens <= options.max_tokens:
        return Fitted(example)
    if options.overlong == "drop":
        return Fitted(None)
    # Evidence goes first (least relevant excerpt first): the ticket itself is what the answer is about.
    evidence = list(evidence)
    while evidence:
        evidence.pop()
        example = make(evidence, body)
        if example.tokens <= options.max_tokens:
            return Fitted(example, trimmed=True)
    for _ in range(3):  # token counts shift a little at the cut, so re-measure
        excess = example.tokens - options.max_tokens
        if excess <= 0:
            return Fitted(example, trimmed=True)
        keep = count_tokens(body) - excess - 1
        if keep < _MIN_BODY_TOKENS:
            return Fitted(None)
        body = truncate_tokens(body, keep).rstrip() + " […]"
        example = make(evidence, body)
    return Fitted(example if example.tokens <= options.max_tokens else None, trimmed=True)


def classify_example(candidate: Candidate, catalogue: str, options: BuildOptions) -> Fitted:
    answer = json.dumps(candidate.targets.labels, ensure_ascii=False)

    def make(_: list[str], body: str) -> ChatExample:
        user = {"subject": candidate.subject or "(no subject)", "body": body or "(empty)"}
        return _messages("classify", {"fields": catalogue}, user, answer)

    return _fit(make, [], candidate.body, options)


def reply_example(candidate: Candidate, hits: Sequence[KBHitLike], options: BuildOptions) -> Fitted:
    if candidate.reply is None:
        raise ValueError(f"ticket {candidate.ticket.id} has no reply target")
    excerpts = [
        f"[{hit.article_id}] {candidate.session.scrub(hit.title)}\n"
        + candidate.session.scrub(truncate_tokens(hit.text.strip(), options.kb_excerpt_tokens))
        for hit in hits
    ]

    def make(evidence: list[str], body: str) -> ChatExample:
        user = {
            "subject": candidate.subject or "(no subject)",
            "body": body or "(empty)",
            "evidence": "\n\n".join(evidence) if evidence else "(none found)",
        }
        return _messages("reply", {}, user, candidate.reply or "")

    return _fit(make, excerpts, candidate.body, options)

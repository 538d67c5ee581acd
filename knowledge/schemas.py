"""What we know, as data: tickets, customers, knowledge-base articles and their chunks.

These models are the boundary for everything that enters the system (importers, the `triage`
command, webhooks). This module imports nothing else from the project.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_TENANT = "default"

#: Ids and tenant names are keys in SQLite, Chroma and helpdesk URLs: bounded, one line, no control characters.
MAX_ID_CHARS = 256
MAX_TENANT_CHARS = 64
#: Dates outside this window are mistakes (or probes), and SLA math on them overflows (9999-12-31 + 4h).
EARLIEST_DATE = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_DATE = datetime(2100, 1, 1, tzinfo=UTC)
#: A thread longer than this keeps its newest messages: the classifier reads the latest ones first anyway.
MAX_THREAD_MESSAGES = 50

#: Labels a history ticket may carry that map onto TriageResult classification fields.
STANDARD_LABELS: tuple[str, ...] = ("queue", "category", "priority", "type", "sentiment", "churn_risk")

PRIORITIES: tuple[str, ...] = ("P0", "P1", "P2", "P3")

#: Where a stored label came from. Only imported and human labels are ground truth: they train the
#: local model and enter evals and fine-tuning sets; predicted and rule-made labels never do.
LabelSource = Literal["imported", "human_confirmed", "human_corrected", "predicted", "rule"]
TRAINABLE_SOURCES: frozenset[str] = frozenset({"imported", "human_confirmed", "human_corrected"})

# Helpdesks name priorities many ways; everything funnels into P0–P3 so SLA and policy have one scale.
_PRIORITY_ALIASES: dict[str, str] = {
    **{alias: "P0" for alias in ("p0", "urgent", "blocker", "sev1", "sev-1", "sev 1", "highest", "emergency")},
    **{alias: "P1" for alias in ("p1", "high", "critical", "sev2", "sev-2", "sev 2")},
    **{alias: "P2" for alias in ("p2", "normal", "medium", "major", "sev3", "sev-3", "sev 3")},
    **{alias: "P3" for alias in ("p3", "low", "minor", "trivial", "lowest", "sev4", "sev-4", "sev 4")},
}


def normalise_priority(value: str) -> str:
    """Map a helpdesk priority name to P0–P3; raises ValueError naming the accepted values."""
    key = value.strip().lower()
    if key in _PRIORITY_ALIASES:
        return _PRIORITY_ALIASES[key]
    accepted = ", ".join(sorted({*PRIORITIES, "urgent", "high", "normal", "low", "blocker", "critical"}))
    raise ValueError(f"unknown priority {value!r} (accepted: {accepted}, ...)")


def bounded_datetime(value: datetime | None) -> datetime | None:
    """Aware (naive means UTC) and inside EARLIEST_DATE..LATEST_DATE; raises ValueError naming the window."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not EARLIEST_DATE <= value < LATEST_DATE:
        raise ValueError(
            f"{value.isoformat()} is outside the supported range "
            f"({EARLIEST_DATE.date().isoformat()} to {LATEST_DATE.date().isoformat()})"
        )
    return value


def _identifier(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters or line breaks")
    return value


def stable_id(*parts: str) -> str:
    """A deterministic id from content, so re-importing a file without ids updates instead of duplicating."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"t-{digest[:16]}"


class Customer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    name: str | None = None
    tier: str | None = None
    mrr: float | None = Field(default=None, ge=0)


class Message(BaseModel):
    """An earlier message of a ticket's conversation (the ticket's `body` is the newest customer message)."""

    model_config = ConfigDict(extra="ignore")

    author: Literal["customer", "agent"] = "customer"
    body: str
    at: datetime | None = None

    _at = field_validator("at")(bounded_datetime)


class Ticket(BaseModel):
    """A support ticket as Caseworker sees it, from any source.

    Known labels (`queue`, `priority`, ...) given at the top level are collected into `labels`;
    any other unknown key is kept in `extra`, never rejected. A follow-up on a known ticket has its new
    customer message as `body` and the conversation before it, oldest first, in `thread`.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    subject: str
    body: str
    tenant: str = Field(default=DEFAULT_TENANT, max_length=MAX_TENANT_CHARS)
    created_at: datetime | None = None
    channel: str | None = None
    language: str | None = None
    customer: Customer | None = None
    tags: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    #: Provenance per label; a label without an entry was imported (a history file or the helpdesk).
    label_sources: dict[str, LabelSource] = Field(default_factory=dict)
    reply: str | None = None
    thread: list[Message] = Field(default_factory=list, max_length=MAX_THREAD_MESSAGES)
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_labels_and_extra(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set(cls.model_fields)
        out: dict[str, Any] = {}
        labels: dict[str, Any] = dict(data.get("labels") or {})
        extra: dict[str, Any] = dict(data.get("extra") or {})
        for key, value in data.items():
            if key in ("labels", "extra"):
                continue
            if key in known:
                out[key] = value
            elif key in STANDARD_LABELS:
                if value not in (None, ""):
                    labels[key] = value
            else:
                extra[key] = value
        out["labels"] = labels
        out["extra"] = extra
        return out

    _ids = field_validator("id", "tenant")(_identifier)
    _created_at = field_validator("created_at")(bounded_datetime)

    @field_validator("tags", mode="before")
    @classmethod
    def _split_tags(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [tag.strip() for tag in value.replace(";", ",").split(",") if tag.strip()]
        return value

    @field_validator("labels", mode="before")
    @classmethod
    def _clean_labels(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        cleaned: dict[str, str] = {}
        for key, raw in value.items():
            if raw is None or str(raw).strip() == "":
                continue
            text = str(raw).strip()
            cleaned[str(key)] = normalise_priority(text) if key == "priority" else text
        return cleaned

    @model_validator(mode="after")
    def _sources_of_present_labels(self) -> Ticket:
        if any(name not in self.labels for name in self.label_sources):
            self.label_sources = {k: v for k, v in self.label_sources.items() if k in self.labels}
        return self

    def label_source(self, name: str) -> LabelSource:
        return self.label_sources.get(name, "imported")

    def trainable_labels(self) -> dict[str, str]:
        """The labels a human or the team's own history stands behind: what trains and evaluates."""
        return {k: v for k, v in self.labels.items() if self.label_source(k) in TRAINABLE_SOURCES}

    @property
    def text(self) -> str:
        """Subject and body as one text, the unit that is embedded and classified."""
        return f"{self.subject.strip()}\n\n{self.body.strip()}".strip()

    @property
    def is_resolved(self) -> bool:
        return bool(self.reply and self.reply.strip())

    def content_hash(self) -> str:
        # An empty thread is left out so that tickets stored before threads existed keep their hash.
        payload = self.model_dump(mode="json", exclude={"extra"} if self.thread else {"extra", "thread"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Article(BaseModel):
    """A knowledge-base article."""

    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    body: str
    tenant: str = DEFAULT_TENANT
    category: str | None = None
    tags: list[str] = Field(default_factory=list)
    source: str | None = None


class ArticleChunk(BaseModel):
    """A token-bounded piece of an article: the unit stored in the vector index."""

    id: str
    article_id: str
    title: str
    text: str
    tenant: str = DEFAULT_TENANT
    category: str | None = None
    position: int = 0

"""What we know, as data: tickets, customers, knowledge-base articles and their chunks.

These models are the boundary for everything that enters the system (importers, the `triage`
command, webhooks). This module imports nothing else from the project.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_TENANT = "default"

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


def stable_id(*parts: str) -> str:
    """A deterministic id from content, so re-importing a file without ids updates instead of duplicating."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return f"t-{digest[:16]}"


class Customer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    name: str | None = None
    tier: str | None = None
    mrr: float | None = Field(default=None, ge=0)


class Ticket(BaseModel):
    """A support ticket as Caseworker sees it, from any source.

    Known labels (`queue`, `priority`, ...) given at the top level are collected into `labels`;
    any other unknown key is kept in `extra`, never rejected.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    subject: str
    body: str
    tenant: str = DEFAULT_TENANT
    created_at: datetime | None = None
    channel: str | None = None
    language: str | None = None
    customer: Customer | None = None
    tags: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    #: Provenance per label; a label without an entry was imported (a history file or the helpdesk).
    label_sources: dict[str, LabelSource] = Field(default_factory=dict)
    reply: str | None = None
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

    @field_validator("id", "tenant")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value

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
        payload = self.model_dump(mode="json", exclude={"extra"})
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

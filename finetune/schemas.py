"""The fine-tuning boundary models: build options, review outcomes and the manifest."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MANIFEST_VERSION = "1"
Task = Literal["classify", "reply"]
TASKS: tuple[Task, ...] = ("classify", "reply")

#: USD per 1M training tokens, from OpenAI's published fine-tuning prices (2025). Prices change:
#: pass `--price-table FILE.json` ({"model": usd_per_million, ...}) to use your provider's.
DEFAULT_PRICES_PER_MILLION: dict[str, float] = {
    "gpt-4o-mini-2024-07-18": 3.00,
    "gpt-4o-2024-08-06": 25.00,
    "gpt-4.1-2025-04-14": 25.00,
    "gpt-4.1-mini-2025-04-14": 5.00,
    "gpt-4.1-nano-2025-04-14": 1.50,
    "gpt-3.5-turbo-0125": 8.00,
}
DEFAULT_TARGET_MODEL = "gpt-4o-mini-2024-07-18"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BuildOptions(_Frozen):
    """Everything that decides the output; recorded verbatim in the manifest."""

    task: Literal["classify", "reply", "both"] = "both"
    seed: int = 13
    val_fraction: float = Field(default=0.1, gt=0, lt=1)
    split: Literal["stratified", "time"] = "stratified"
    stratify_field: str | None = Field(
        default=None, description="Label to stratify by; default: queue, else category, else the first label."
    )
    dedupe_threshold: float = Field(
        default=0.95, gt=0, le=1, description="Cosine similarity from which two tickets are near-duplicates."
    )
    leak_threshold: float = Field(
        default=0.9, gt=0, le=1, description="Cosine similarity from which two tickets must share a split side."
    )
    max_tokens: int = Field(default=16_384, ge=64, description="Per-example limit (cl100k, cookbook accounting).")
    overlong: Literal["trim", "drop"] = "trim"
    min_tokens: int = Field(default=5, ge=0, description="Tickets whose cleaned text is shorter are skipped.")
    k_kb: int = Field(default=3, ge=0, le=20)
    kb_excerpt_tokens: int = Field(default=200, ge=20)
    pii_patterns: list[str] = Field(default_factory=list)
    thread_field: str = "thread_id"
    exclude_fields: tuple[str, ...] = Field(
        default=("assignee",),
        description="Labels no example teaches: the person who resolved a ticket (the routing person label; "
        "routing learns that from history, the classifier never does).",
    )
    target_model: str = DEFAULT_TARGET_MODEL
    epochs: int = Field(default=3, ge=1, le=50)

    @model_validator(mode="after")
    def _leak_below_dedupe(self) -> BuildOptions:
        # Grouping looser than removal is what keeps surviving near-duplicates on one side.
        if self.leak_threshold > self.dedupe_threshold:
            raise ValueError(
                f"leak_threshold ({self.leak_threshold}) must not exceed dedupe_threshold ({self.dedupe_threshold})"
            )
        return self

    @property
    def tasks(self) -> tuple[Task, ...]:
        return TASKS if self.task == "both" else (self.task,)


class ReviewOutcome(BaseModel):
    """A human review of a triage result, as the review step records it in the history's audit log.

    Contract (event `review`, detail below): `labels` are the labels as the reviewer left them
    (corrections included), `reply` the reply as sent after approval or editing, `draft` the draft
    the reviewer saw. A rejected draft is never a training target.
    """

    model_config = ConfigDict(extra="ignore")

    outcome: Literal["approved", "edited", "rejected"]
    labels: dict[str, str] = Field(default_factory=dict)
    reply: str | None = None
    draft: str | None = None

    @field_validator("outcome", mode="before")
    @classmethod
    def _verb_forms(cls, value: object) -> object:
        aliases = {"approve": "approved", "edit": "edited", "reject": "rejected"}
        return aliases.get(value, value) if isinstance(value, str) else value


class SourceInfo(_Frozen):
    kind: Literal["file", "history"]
    path: str
    sha256: str | None = Field(default=None, description="Of the input file (a --from build).")
    mapping: list[str] = Field(default_factory=list)
    tenant: str | None = None
    rows_read: int = 0
    import_rejects: int = 0


class TokenStats(_Frozen):
    examples: int = 0
    total: int = 0
    min: int = 0
    mean: float = 0.0
    p50: int = 0
    p95: int = 0
    max: int = 0
    assistant_total: int = 0


class SplitCounts(_Frozen):
    train: int = 0
    val: int = 0


class CostEstimate(_Frozen):
    target_model: str
    epochs: int
    training_tokens_per_epoch: int
    estimated_training_tokens: int
    usd_per_million_tokens: float | None
    estimated_cost_usd: float | None
    price_source: str
    note: str = "Tokens counted with cl100k using the cookbook's per-message accounting; billed tokens may differ."


class FileEntry(_Frozen):
    examples: int
    bytes: int
    sha256: str


class DedupeReport(_Frozen):
    exact_removed: int = 0
    near_removed: int = 0
    threshold: float
    near_clusters: int = 0


class SplitReport(_Frozen):
    method: Literal["stratified", "time"]
    stratify_field: str | None
    groups: int
    multi_ticket_groups: int
    train_tickets: int
    val_tickets: int
    cutoff: datetime | None = None


class Manifest(_Frozen):
    manifest_version: Literal["1"] = MANIFEST_VERSION
    built_at: datetime
    options: BuildOptions
    source: SourceInfo
    prompt_versions: dict[str, str]
    tickets_in: int
    filtered: dict[str, int] = Field(description="Tickets skipped before any example was made, by reason.")
    task_filtered: dict[str, dict[str, int]] = Field(description="Examples not made for a task, by reason.")
    trimmed: dict[str, int] = Field(description="Examples trimmed to the token limit (evidence first), by task.")
    label_sources: dict[str, int] = Field(description="Where targets came from: ticket, review correction, ...")
    tickets_kept: int
    examples: dict[str, SplitCounts]
    dedupe: DedupeReport
    split: SplitReport
    pii_placeholders: dict[str, int] = Field(description="Placeholders written to the output files, by type.")
    class_distribution_before: dict[str, dict[str, int]]
    class_distribution_after: dict[str, dict[str, dict[str, int]]] = Field(description="split → field → counts")
    tokens: dict[str, dict[str, TokenStats]] = Field(description="task → split → statistics")
    cost: CostEstimate
    files: dict[str, FileEntry]

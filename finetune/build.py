"""`finetune build`: resolved history → scrubbed, deduplicated, leak-free train/val chat JSONL + manifest.

The pipeline, in order: targets (review first) → ticket filters → PII scrub → exact dedupe → embed →
near-duplicate removal → examples per task (KB evidence, token limit) → group-aware split → write.
Everything is ordered by (created_at, tenant, id) and shuffled only with `Random(seed)`, so the same
input and options give byte-identical files.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from finetune.dedupe import exact_duplicates, exact_key, leakage_groups, near_duplicate_clusters
from finetune.examples import (
    Candidate,
    EvidenceFn,
    classify_example,
    field_catalogue,
    prompt_versions,
    reply_example,
    scrub_candidate,
    targets_for,
    ticket_filter,
)
from finetune.manifest import (
    cost_estimate,
    distribution,
    load_price_table,
    placeholder_counts,
    token_stats,
    write_jsonl,
)
from finetune.pii import PiiPattern, Scrubber
from finetune.schemas import (
    TASKS,
    BuildOptions,
    DedupeReport,
    FileEntry,
    Manifest,
    ReviewOutcome,
    SourceInfo,
    SplitCounts,
    SplitReport,
    Task,
    TokenStats,
)
from finetune.split import stratified_split, time_split
from knowledge.embeddings import Embedder
from knowledge.schemas import Ticket

TRAIN_FILE, VAL_FILE, INDEX_FILE, MANIFEST_FILE = "train.jsonl", "val.jsonl", "index.jsonl", "manifest.json"
EMBED_BATCH = 64


class BuildError(RuntimeError):
    """The build cannot produce a dataset (nothing left after filtering, ...)."""


class BuildUsageError(BuildError):
    """The options do not fit the data (a label to stratify by that no ticket has, a bad pattern)."""


class Progress(Protocol):
    def start(self, description: str, total: int) -> None: ...

    def advance(self, amount: int = 1) -> None: ...


class _Silent:
    def start(self, description: str, total: int) -> None:
        return None

    def advance(self, amount: int = 1) -> None:
        return None


def _order_key(ticket: Ticket) -> tuple[Any, ...]:
    created = ticket.created_at
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return (created is None, created or datetime.min.replace(tzinfo=UTC), ticket.tenant, ticket.id)


def _embed(embedder: Embedder, texts: Sequence[str], progress: Progress) -> np.ndarray:
    progress.start("Embedding tickets", len(texts))
    parts = []
    for start in range(0, len(texts), EMBED_BATCH):
        batch = list(texts[start : start + EMBED_BATCH])
        parts.append(embedder.embed(batch))
        progress.advance(len(batch))
    return np.vstack(parts) if parts else np.zeros((0, 1), dtype=np.float32)


def _stratify_field(options: BuildOptions, candidates: Sequence[Candidate]) -> str | None:
    if options.stratify_field:
        return options.stratify_field
    present = {name for c in candidates for name in c.targets.labels}
    for name in ("queue", "category"):
        if name in present:
            return name
    return min(present) if present else None


def build_dataset(
    tickets: Sequence[Ticket],
    options: BuildOptions,
    embedder: Embedder,
    out_dir: Path,
    *,
    source: SourceInfo,
    reviews: Mapping[tuple[str, str], ReviewOutcome] | None = None,
    evidence: EvidenceFn | None = None,
    price_table: Path | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> Manifest:
    """Build the dataset into `out_dir` and return the manifest (also written there)."""
    progress = progress or _Silent()
    reviews = reviews or {}
    try:
        patterns = [PiiPattern.parse(spec) for spec in options.pii_patterns]
    except ValueError as exc:
        raise BuildUsageError(str(exc)) from exc
    prices, price_source = load_price_table(price_table)
    scrubber = Scrubber(patterns)
    ordered = sorted(tickets, key=_order_key)
    reasons = ("unresolved", "auto_reply", "too_short", *(("no_created_at",) if options.split == "time" else ()))
    filtered: dict[str, int] = dict.fromkeys((*reasons, "exact_duplicate", "near_duplicate"), 0)

    # 1. targets, filters and scrubbing: nothing below this point sees unscrubbed text.
    progress.start("Scrubbing PII", len(ordered))
    candidates: list[Candidate] = []
    dropped_fields = 0
    for ticket in ordered:
        targets = targets_for(ticket, reviews.get((ticket.tenant, ticket.id)), options)
        dropped_fields += targets.dropped_fields
        reason = ticket_filter(ticket, targets, options)
        if reason:
            filtered[reason] += 1
        else:
            candidates.append(scrub_candidate(ticket, targets, scrubber))
        progress.advance()

    # 2. exact duplicates (same scrubbed text), then near-duplicates by embedding similarity.
    duplicate_of = exact_duplicates([exact_key(c.text) for c in candidates])
    filtered["exact_duplicate"] = sum(1 for d in duplicate_of if d is not None)
    candidates = [c for c, d in zip(candidates, duplicate_of, strict=True) if d is None]
    vectors = _embed(embedder, [c.text for c in candidates], progress)
    clusters = near_duplicate_clusters(vectors, options.dedupe_threshold) if candidates else []
    keep = sorted(cluster[0] for cluster in clusters)
    filtered["near_duplicate"] = len(candidates) - len(keep)
    candidates, vectors = [candidates[i] for i in keep], vectors[keep] if keep else vectors
    dedupe = DedupeReport(
        exact_removed=filtered["exact_duplicate"],
        near_removed=filtered["near_duplicate"],
        threshold=options.dedupe_threshold,
        near_clusters=sum(1 for cluster in clusters if len(cluster) > 1),
    )

    # 3. examples per task.
    task_filtered: dict[str, Counter[str]] = {task: Counter() for task in options.tasks}
    trimmed: Counter[str] = Counter()
    sources: Counter[str] = Counter({"label_fields_dropped_off_scale": dropped_fields} if dropped_fields else {})
    catalogue_values: dict[str, set[str]] = {}
    for candidate in candidates:
        for name, value in candidate.targets.labels.items():
            catalogue_values.setdefault(name, set()).add(value)
    catalogue = field_catalogue(catalogue_values)
    progress.start("Rendering examples", len(candidates))
    for index, candidate in enumerate(candidates):
        for task in options.tasks:
            if task == "classify" and not candidate.targets.labels:
                task_filtered[task]["unlabelled"] += 1
                continue
            if task == "reply" and candidate.reply is None:
                task_filtered[task][candidate.targets.reply_skip or "no_reply"] += 1
                continue
            if task == "classify":
                fitted = classify_example(candidate, catalogue, options)
            else:
                hits = evidence(vectors[index], candidate.ticket.tenant, options.k_kb) if evidence else []
                fitted = reply_example(candidate, hits, options)
            if fitted.example is None:
                task_filtered[task]["over_token_limit"] += 1
                continue
            trimmed[task] += fitted.trimmed
            candidate.examples[task] = fitted.example
            source_name = candidate.targets.label_source if task == "classify" else candidate.targets.reply_source
            sources[f"{task}:{source_name}"] += 1
        progress.advance()
    productive = [i for i, c in enumerate(candidates) if c.examples]
    if not productive:
        reported = Counter(filtered) + sum(task_filtered.values(), Counter())
        counts = ", ".join(f"{k}={v}" for k, v in sorted(reported.items()))
        raise BuildError(f"no examples left after filtering {len(tickets)} tickets ({counts or 'no tickets'})")
    candidates, vectors = [candidates[i] for i in productive], vectors[productive]

    # 4. group-aware split: customer, thread and near-duplicate groups stay on one side.
    def identity(c: Candidate) -> list[tuple[str, ...]]:
        keys: list[tuple[str, ...]] = []
        if c.ticket.customer and c.ticket.customer.id:
            keys.append(("customer", c.ticket.tenant, c.ticket.customer.id))
        thread = c.ticket.extra.get(options.thread_field) or c.ticket.labels.get(options.thread_field)
        if thread not in (None, ""):
            keys.append(("thread", c.ticket.tenant, str(thread)))
        return keys

    groups = leakage_groups(len(candidates), vectors, options.leak_threshold, [identity(c) for c in candidates])
    stratify = _stratify_field(options, candidates) if options.split == "stratified" else None
    if stratify and not any(stratify in c.targets.labels for c in candidates):
        present = sorted({name for c in candidates for name in c.targets.labels})
        raise BuildUsageError(
            f"cannot stratify by {stratify!r}: no ticket has that label (labels: {', '.join(present)})"
        )
    if options.split == "time":
        result = time_split(groups, [c.created_at for c in candidates], options.val_fraction)  # type: ignore[misc]
    else:
        labels = [c.targets.labels.get(stratify) if stratify else None for c in candidates]
        result = stratified_split(groups, labels, options.val_fraction, options.seed)

    # 5. write: each side shuffled with the seed; index.jsonl says which ticket every line came from.
    rows: dict[str, list[tuple[Task, Candidate, int]]] = {"train": [], "val": []}
    group_of = {member: number for number, group in enumerate(groups) for member in group}
    for index, candidate in enumerate(candidates):
        for task in TASKS:
            if task in candidate.examples:
                rows[result.side(index)].append((task, candidate, group_of[index]))
    rng = random.Random(options.seed)
    for side in ("train", "val"):
        rng.shuffle(rows[side])
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, FileEntry] = {}
    for side, name in (("train", TRAIN_FILE), ("val", VAL_FILE)):
        files[name] = _write(out_dir / name, [c.examples[t].to_json() for t, c, _ in rows[side]])
    index_rows = [
        {"file": name, "line": line, "task": task, "tenant": c.ticket.tenant, "ticket_id": c.ticket.id, "group": g}
        for side, name in (("train", TRAIN_FILE), ("val", VAL_FILE))
        for line, (task, c, g) in enumerate(rows[side], start=1)
    ]
    files[INDEX_FILE] = _write(out_dir / INDEX_FILE, index_rows)

    # 6. the manifest.
    tokens: dict[str, dict[str, TokenStats]] = {}
    examples: dict[str, SplitCounts] = {}
    for task in options.tasks:
        per_side = {side: [c.examples[task] for t, c, _ in rows[side] if t == task] for side in ("train", "val")}
        tokens[task] = {
            side: token_stats([e.tokens for e in found], [e.assistant_tokens for e in found])
            for side, found in per_side.items()
        }
        examples[task] = SplitCounts(train=len(per_side["train"]), val=len(per_side["val"]))
    train_tokens = sum(tokens[task]["train"].total for task in options.tasks)
    # The system prompts name placeholders as examples; only ticket and answer text count.
    scrubbed = [m.content for side in rows.values() for t, c, _ in side for m in c.examples[t].messages[1:]]
    manifest = Manifest(
        built_at=now or datetime.now(UTC),
        options=options,
        source=source,
        prompt_versions=prompt_versions(options.tasks),
        tickets_in=len(tickets),
        filtered=filtered,
        task_filtered={task: dict(sorted(counts.items())) for task, counts in task_filtered.items()},
        trimmed={task: trimmed[task] for task in options.tasks},
        label_sources=dict(sorted(sources.items())),
        tickets_kept=len(candidates),
        examples=examples,
        dedupe=dedupe,
        split=SplitReport(
            method=options.split,
            stratify_field=stratify,
            groups=len(groups),
            multi_ticket_groups=sum(1 for g in groups if len(g) > 1),
            train_tickets=len(candidates) - len(result.val),
            val_tickets=len(result.val),
            cutoff=result.cutoff,
        ),
        pii_placeholders=placeholder_counts(scrubbed),
        class_distribution_before=distribution(
            {k: v for k, v in t.labels.items() if k not in options.exclude_fields} for t in tickets
        ),
        class_distribution_after={
            side: distribution(c.targets.labels for i, c in enumerate(candidates) if result.side(i) == side)
            for side in ("train", "val")
        },
        tokens=tokens,
        cost=cost_estimate(train_tokens, options.target_model, options.epochs, prices, price_source),
        files=files,
    )
    temporary = out_dir / f".{MANIFEST_FILE}.tmp"
    temporary.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, out_dir / MANIFEST_FILE)
    return manifest


def _write(path: Path, rows: list[dict[str, Any]]) -> FileEntry:
    # Written beside the target and renamed, so a crash never leaves a half file under the real name.
    temporary = path.with_name(f".{path.name}.tmp")
    entry = write_jsonl(temporary, rows)
    os.replace(temporary, path)
    return entry

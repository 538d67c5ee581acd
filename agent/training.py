"""Training one tenant's local model: its own labelled history, a time-based holdout, and a promotion gate.

1. The tenant's tickets with imported or human labels, oldest first (see `Ticket.trainable_labels`).
2. The newest `holdout_share` of them is held out and never trained on; a field with fewer than
   `min_labels_per_field` labelled training tickets is not learned at all (the tenant then gets no local
   prediction for it: the LLM answers, or the ticket asks for review).
3. The candidate is scored on the holdout (per-field macro-F1 and accuracy), and so is the champion, on
   the holdout tickets it never trained on (newer than its training data) when there are enough of them.
4. The gate promotes the candidate only when it learned every field the champion knows and no field is
   worse beyond noise (the paired bootstrap interval of (candidate - champion) macro-F1 on the same rows
   lies wholly below -tolerance); otherwise it stays a candidate and the report says why.
   `promote="always"` skips the gate (the first model of an eval), `"never"` only registers.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from agent.local_model import LocalModel, ModelNotTrainedError
from agent.stats import accuracy, macro_f1, paired_bootstrap_delta
from knowledge.embeddings import Embedder
from knowledge.embeddings_tuned import unseen_rows
from knowledge.history import History
from knowledge.model_registry import ModelRecord, ModelRegistry
from knowledge.schemas import Ticket
from knowledge.store import KnowledgeStore
from knowledge.text import ticket_model_text

Promote = Literal["auto", "always", "never"]
Progress = Callable[[str], None]

#: Below this many holdout tickets a field's score says too little to judge by; it is reported, not gated.
MIN_SCORED = 5
#: The champion is compared on holdout tickets newer than its own training data when this many exist.
MIN_UNSEEN_FOR_CHAMPION = 20


@dataclass(frozen=True)
class TrainingOptions:
    min_labels_per_field: int = 50
    holdout_share: float = 0.15
    tolerance: float = 0.01
    promote: Promote = "auto"
    seed: int = 0
    #: Labels the classifier never learns (the resolver: routing learns that from history).
    exclude_fields: tuple[str, ...] = ()


@dataclass
class LabelledHistory:
    tickets: list[Ticket]
    texts: list[str]
    embeddings: np.ndarray
    labels: list[dict[str, str]]
    order_keys: list[str]


@dataclass(frozen=True)
class TrainingReport:
    tenant: str
    record: ModelRecord
    promoted: bool
    reasons: list[str]

    @property
    def version(self) -> str:
        return self.record.version


def _order_key(ticket: Ticket, position: int) -> str:
    created = ticket.created_at.isoformat() if ticket.created_at else ""
    return f"{created}|{position:09d}"


def labelled_history(
    history: History, store: KnowledgeStore, embedder: Embedder, tenant: str, exclude: Sequence[str] = ()
) -> LabelledHistory:
    """The tenant's labelled tickets oldest first, with their stored embeddings (embedding any missing); the
    labels in `exclude` are left out (and a ticket labelled with nothing else is too)."""

    def labels_of(ticket: Ticket) -> dict[str, str]:
        return {k: v for k, v in ticket.trainable_labels().items() if k not in exclude}

    tickets = [t for t in history.tickets_in_time_order(tenant) if labels_of(t)]
    if not tickets:
        return LabelledHistory([], [], np.zeros((0, 0), dtype=np.float32), [], [])
    stored = {ticket_id: vector for _, ticket_id, vector in store.ticket_embeddings(tenant)}
    texts = [ticket_model_text(t) for t in tickets]
    missing = [i for i, t in enumerate(tickets) if t.id not in stored]
    for start in range(0, len(missing), 64):
        batch = missing[start : start + 64]
        for i, vector in zip(batch, embedder.embed([texts[i] for i in batch]), strict=True):
            stored[tickets[i].id] = vector
    embeddings = np.vstack([stored[t.id] for t in tickets]).astype(np.float32)
    return LabelledHistory(
        tickets=tickets,
        texts=texts,
        embeddings=embeddings,
        labels=[labels_of(t) for t in tickets],
        order_keys=[_order_key(t, i) for i, t in enumerate(tickets)],
    )


def holdout_size(n: int, share: float) -> int:
    if share <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, math.ceil(n * share)))


Predictions = list[dict[str, tuple[str, float]]]  # per holdout row: field -> (value, confidence)


def predict_rows(model: LocalModel, texts: Sequence[str], embeddings: np.ndarray) -> Predictions:
    if not texts:
        return []
    guesses = model.predict(list(texts), embeddings)
    return [{name: (g.value, g.confidence) for name, g in row.items()} for row in guesses]


def field_scores(predicted: Predictions, truth: Sequence[dict[str, str]]) -> dict[str, dict[str, Any]]:
    """Per predicted field: macro-F1 and accuracy on the rows the truth labels, how many, and the confidence
    histogram over every row (the reference the drift monitor compares live confidences with)."""
    fields = sorted({name for row in predicted for name in row})
    scores: dict[str, dict[str, Any]] = {}
    for name in fields:
        rows = [i for i, labels in enumerate(truth) if name in labels]
        if not rows:
            continue
        y_true = [truth[i][name] for i in rows]
        y_pred = [predicted[i][name][0] for i in rows]
        scores[name] = {
            "macro_f1": round(macro_f1(y_true, y_pred), 4),
            "accuracy": round(accuracy(y_true, y_pred), 4),
            "n": len(rows),
            "confidence_hist": confidence_histogram([row[name][1] for row in predicted if name in row]),
        }
    return scores


CONFIDENCE_BINS = 10


def confidence_histogram(confidences: Sequence[float]) -> list[int]:
    """Counts of confidences in ten equal bins over [0, 1] (1.0 falls in the last)."""
    counts, _ = np.histogram(np.clip(np.asarray(confidences, dtype=float), 0, 1), bins=CONFIDENCE_BINS, range=(0, 1))
    return [int(c) for c in counts]


@dataclass(frozen=True)
class Comparison:
    """Candidate and champion predictions on the same holdout rows, with their truth."""

    truth: list[dict[str, str]]
    candidate: Predictions
    champion: Predictions
    champion_fields: list[str]


def gate(comparison: Comparison | None, candidate_fields: Sequence[str], tolerance: float) -> tuple[bool, list[str]]:
    """(promote?, reasons). Refused when the candidate lacks a field the champion predicts, or is worse on one
    beyond noise: the paired bootstrap's 95 % interval of (candidate - champion) macro-F1 on the same rows lies
    wholly below -tolerance. A single holdout of a few hundred tickets moves macro-F1 by several points on
    its own; without the interval, a gate refuses good candidates half the time."""
    if comparison is None:
        return True, ["no champion yet"]
    reasons: list[str] = []
    ok = True
    for name in comparison.champion_fields:
        if name not in candidate_fields:
            ok = False
            reasons.append(f"{name}: the champion predicts it, the candidate learned no model for it")
            continue
        rows = [i for i, labels in enumerate(comparison.truth) if name in labels]
        if len(rows) < MIN_SCORED:
            reasons.append(f"{name}: too few holdout tickets to compare ({len(rows)})")
            continue
        truth = [comparison.truth[i][name] for i in rows]
        mine = [comparison.candidate[i][name][0] for i in rows]
        theirs = [comparison.champion[i][name][0] for i in rows]
        delta = paired_bootstrap_delta(truth, mine, theirs, resamples=1000, seed=0)
        worse = delta.high < -tolerance
        reasons.append(
            f"{name}: macro-F1 {macro_f1(truth, mine):.3f} vs champion {macro_f1(truth, theirs):.3f} on {len(rows)} "
            f"tickets ({delta.delta:+.3f}, 95 % interval {delta.low:+.3f} to {delta.high:+.3f}, tolerance "
            f"{tolerance:.3f}): {'worse' if worse else 'not worse'}"
        )
        ok = ok and not worse
    return ok, reasons


class TenantTrainer:
    """Trains, scores, registers and (through the gate) promotes one tenant's models."""

    def __init__(self, history: History, store: KnowledgeStore, embedder: Embedder, registry: ModelRegistry) -> None:
        self.history = history
        self.store = store
        self.embedder = embedder
        self.registry = registry

    def _unique_version(self, version: str) -> str:
        """The same data trained twice within one second (a retrain right after `reembed`) gets `-2`, `-3`…"""
        candidate, n = version, 1
        while self.registry.get(candidate) is not None:
            n += 1
            candidate = f"{version}-{n}"
        return candidate

    def train(self, tenant: str, options: TrainingOptions, progress: Progress | None = None) -> TrainingReport:
        report: Progress = progress or (lambda _m: None)
        data = labelled_history(self.history, self.store, self.embedder, tenant, exclude=options.exclude_fields)
        if not data.tickets:
            raise ModelNotTrainedError(
                f"tenant {tenant!r} has no imported or human-labelled tickets: run `caseworker ingest tickets` first"
            )
        n_hold = holdout_size(len(data.tickets), options.holdout_share)
        cut = len(data.tickets) - n_hold
        train_labels = data.labels[:cut]
        counts = {name: sum(name in labels for labels in train_labels) for name in {k for d in train_labels for k in d}}
        learned = sorted(name for name, count in counts.items() if count >= options.min_labels_per_field)
        skipped = {name: counts[name] for name in sorted(counts) if name not in learned}
        for name, count in skipped.items():
            report(f"{name}: {count} labelled tickets (< {options.min_labels_per_field}): not learned")
        if not learned:
            raise ModelNotTrainedError(
                f"tenant {tenant!r}: no field has {options.min_labels_per_field} labelled tickets to learn from "
                f"({', '.join(f'{k} {v}' for k, v in skipped.items())}); set CASEWORKER_MIN_LABELS_PER_FIELD lower "
                "or label more history"
            )
        report(f"tenant {tenant}: training on {cut} tickets, {n_hold} newest held out")
        model = LocalModel.train(
            data.texts[:cut],
            data.embeddings[:cut],
            {name: [labels.get(name) for labels in train_labels] for name in learned},
            seed=options.seed,
            progress=report,
            embedding_model_id=self.embedder.model_id,
            judge=unseen_rows(self.embedder, data.texts[:cut]),
        )
        # Versions are unique across tenants too: two tenants with the same history train the same data.
        model.version = self._unique_version(f"{model.version}-{hashlib.sha256(tenant.encode()).hexdigest()[:6]}")
        model.meta.update({"version": model.version, "tenant": tenant, "skipped_fields": skipped,
                           "trained_until": data.order_keys[cut - 1]})  # fmt: skip
        held = predict_rows(model, data.texts[cut:], data.embeddings[cut:])
        scores = field_scores(held, data.labels[cut:])
        champion_record = self.registry.champion(tenant)
        comparison, notes = self._compare(champion_record, data, cut, held)
        promote, reasons = gate(comparison, list(model.fields), options.tolerance)
        if options.promote == "always":
            promote, reasons = True, ["promotion forced (--promote always)", *reasons]
        elif options.promote == "never":
            promote, reasons = False, ["promotion not asked for (--promote never)", *reasons]
        body = {
            "tenant": tenant,
            "n_train": cut,
            "n_holdout": n_hold,
            "fields": model.fields,
            "skipped_fields": skipped,
            "min_labels_per_field": options.min_labels_per_field,
            "holdout": scores,
            "champion": {
                "version": champion_record.version,
                "holdout": field_scores(comparison.champion, comparison.truth) if comparison else None,
            }
            if champion_record
            else None,
            "gate": {"promote": promote, "tolerance": options.tolerance, "reasons": [*notes, *reasons]},
            "class_counts": model.meta.get("class_counts", {}),
            "cross_validation": model.meta.get("cross_validation", {}),
            "trained_until": model.meta["trained_until"],
            "train_seconds": model.meta.get("train_seconds"),
        }
        record = self.registry.add(model.version, tenant, cut, body, model.to_bytes())
        if promote:
            record = self.registry.promote(model.version, reason="; ".join(body["gate"]["reasons"])[:2000])
        self.history.audit("train", {"version": model.version, "promoted": promote, "fields": learned}, tenant=tenant)
        return TrainingReport(tenant=tenant, record=record, promoted=promote, reasons=body["gate"]["reasons"])

    def _compare(
        self, record: ModelRecord | None, data: LabelledHistory, cut: int, candidate: Predictions
    ) -> tuple[Comparison | None, list[str]]:
        """Both models on the holdout rows the champion never trained on (newer than its training data), or
        on the whole holdout when fewer than MIN_UNSEEN_FOR_CHAMPION are."""
        if record is None:
            return None, []
        blob = self.registry.data(record.version)
        if blob is None:
            return None, [f"champion {record.version} has no stored bytes: compared with nothing"]
        champion = LocalModel.from_bytes(blob)
        until = str(record.report.get("trained_until") or "")
        unseen = [i for i in range(cut, len(data.tickets)) if data.order_keys[i] > until]
        rows, notes = unseen, []
        if len(unseen) < MIN_UNSEEN_FOR_CHAMPION:
            rows = list(range(cut, len(data.tickets)))
            notes.append(
                f"only {len(unseen)} holdout tickets are newer than the champion's training data: compared on all "
                f"{len(rows)} (the champion may have trained on some of them)"
            )
        theirs = predict_rows(champion, [data.texts[i] for i in rows], data.embeddings[rows])
        comparison = Comparison(
            truth=[data.labels[i] for i in rows],
            candidate=[candidate[i - cut] for i in rows],
            champion=theirs,
            champion_fields=list(champion.fields),
        )
        return comparison, notes


def report_lines(report: TrainingReport) -> list[str]:
    body: dict[str, Any] = report.record.report
    lines = [
        f"tenant {report.tenant}: {report.version} trained on {body['n_train']} tickets "
        f"({body['n_holdout']} newest held out) -> {'promoted to champion' if report.promoted else 'kept as candidate'}"
    ]
    for name, score in body["holdout"].items():
        lines.append(
            f"  {name}: holdout macro-F1 {score['macro_f1']:.3f}, accuracy {score['accuracy']:.3f} (n={score['n']})"
        )
    for name, count in body["skipped_fields"].items():
        lines.append(f"  {name}: not learned ({count} labelled < {body['min_labels_per_field']})")
    lines += [f"  gate: {reason}" for reason in body["gate"]["reasons"]]
    return lines

"""Training one tenant's local model: its own labelled history, a time-based holdout, and a promotion gate.

1. The tenant's tickets with imported or human labels, oldest first (see `Ticket.trainable_labels`).
2. The newest `holdout_share` of them is held out and never trained on; a field with fewer than
   `min_labels_per_field` labelled training tickets is not learned at all (the tenant then gets no local
   prediction for it: the LLM answers, or the ticket asks for review).
3. The candidate is scored on the holdout (per-field macro-F1 and accuracy), and so is the champion, on
   the holdout tickets it never trained on (newer than its training data) when there are enough of them.
4. The gate promotes the candidate only when no field is worse than the champion's by more than the
   tolerance and it learned every field the champion knows; otherwise it stays a candidate and the report
   says why. `promote="always"` skips the gate (the first model of an eval), `"never"` only registers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from agent.local_model import LocalModel, ModelNotTrainedError
from agent.text import ticket_model_text
from knowledge.embeddings import Embedder
from knowledge.history import History
from knowledge.model_registry import ModelRecord, ModelRegistry
from knowledge.schemas import Ticket
from knowledge.store import KnowledgeStore

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


def labelled_history(history: History, store: KnowledgeStore, embedder: Embedder, tenant: str) -> LabelledHistory:
    """The tenant's labelled tickets oldest first, with their stored embeddings (embedding any missing)."""
    tickets = [t for t in history.tickets_in_time_order(tenant) if t.trainable_labels()]
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
        labels=[t.trainable_labels() for t in tickets],
        order_keys=[_order_key(t, i) for i, t in enumerate(tickets)],
    )


def holdout_size(n: int, share: float) -> int:
    if share <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, math.ceil(n * share)))


def field_scores(
    model: LocalModel, texts: Sequence[str], embeddings: np.ndarray, truth: Sequence[dict[str, str]]
) -> dict[str, dict[str, float]]:
    """Per learned field: macro-F1 (over the classes present in the truth), accuracy and how many scored."""
    if not texts:
        return {}
    predicted = model.predict(list(texts), embeddings)
    scores: dict[str, dict[str, float]] = {}
    for name in model.fields:
        rows = [i for i, labels in enumerate(truth) if name in labels]
        if not rows:
            continue
        y_true = [truth[i][name] for i in rows]
        y_pred = [predicted[i][name].value for i in rows]
        confidences = [predicted[i][name].confidence for i in range(len(texts))]
        scores[name] = {
            "macro_f1": round(float(f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro")), 4),
            "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
            "n": len(rows),
            # The reference the drift monitor compares live confidences with (insights.drift).
            "confidence_hist": confidence_histogram(confidences),
        }
    return scores


CONFIDENCE_BINS = 10


def confidence_histogram(confidences: Sequence[float]) -> list[int]:
    """Counts of confidences in ten equal bins over [0, 1] (1.0 falls in the last)."""
    counts, _ = np.histogram(np.clip(np.asarray(confidences, dtype=float), 0, 1), bins=CONFIDENCE_BINS, range=(0, 1))
    return [int(c) for c in counts]


def gate(
    candidate: dict[str, dict[str, float]],
    champion: dict[str, dict[str, float]] | None,
    champion_fields: Sequence[str],
    tolerance: float,
) -> tuple[bool, list[str]]:
    """(promote?, reasons). Not worse than the champion on any field it knows, within the tolerance."""
    if champion is None:
        return True, ["no champion yet"]
    reasons: list[str] = []
    ok = True
    for name in champion_fields:
        if name not in candidate:
            ok = False
            reasons.append(f"{name}: the champion predicts it, the candidate learned no model for it")
            continue
        mine, theirs = candidate[name], champion.get(name)
        if theirs is None or mine["n"] < MIN_SCORED:
            reasons.append(f"{name}: too few holdout tickets to compare ({int(mine['n'])})")
            continue
        delta = mine["macro_f1"] - theirs["macro_f1"]
        verdict = "not worse" if delta >= -tolerance else "worse"
        reasons.append(
            f"{name}: macro-F1 {mine['macro_f1']:.3f} vs champion {theirs['macro_f1']:.3f} "
            f"({delta:+.3f}, tolerance {tolerance:.3f}): {verdict}"
        )
        ok = ok and delta >= -tolerance
    return ok, reasons


class TenantTrainer:
    """Trains, scores, registers and (through the gate) promotes one tenant's models."""

    def __init__(self, history: History, store: KnowledgeStore, embedder: Embedder, registry: ModelRegistry) -> None:
        self.history = history
        self.store = store
        self.embedder = embedder
        self.registry = registry

    def train(self, tenant: str, options: TrainingOptions, progress: Progress | None = None) -> TrainingReport:
        report: Progress = progress or (lambda _m: None)
        data = labelled_history(self.history, self.store, self.embedder, tenant)
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
        )
        model.meta.update({"tenant": tenant, "skipped_fields": skipped, "trained_until": data.order_keys[cut - 1]})
        held = slice(cut, None)
        scores = field_scores(model, data.texts[held], data.embeddings[held], data.labels[held])
        champion_record = self.registry.champion(tenant)
        champion_scores, champion_fields, notes = self._champion_scores(champion_record, data, cut)
        promote, reasons = gate(scores, champion_scores, champion_fields, options.tolerance)
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
            "champion": {"version": champion_record.version, "holdout": champion_scores} if champion_record else None,
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

    def _champion_scores(
        self, record: ModelRecord | None, data: LabelledHistory, cut: int
    ) -> tuple[dict[str, dict[str, float]] | None, list[str], list[str]]:
        if record is None:
            return None, [], []
        blob = self.registry.data(record.version)
        if blob is None:
            return None, [], [f"champion {record.version} has no stored bytes: compared with nothing"]
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
        texts = [data.texts[i] for i in rows]
        scores = field_scores(champion, texts, data.embeddings[rows], [data.labels[i] for i in rows])
        return scores, list(champion.fields), notes


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

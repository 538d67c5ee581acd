"""Learning from feedback, replayed: does the model get better as reviewers correct it?

`../shared/data/support_tickets_multilang` (2,181 real-format tickets, en/de; queue, priority, type) is
replayed in file order as an incoming stream. The history starts with the first `--start` tickets,
labelled; the first model is trained on them (newest 15 % held out, every field with ≥ `--min-labels`
labels). Then, batch by batch of `--every` tickets: each is triaged through the real graph, scored
against its true labels (accuracy and macro-F1 per field, for that batch, before any feedback on it),
and a simulated reviewer stores the true labels (human_confirmed where the model was right,
human_corrected where it was wrong); then the tenant retrains through the promotion gate.

Prints the curve per field, every promotion decision with the gate's reasons, and retraining wall time.

    .venv/bin/python benchmarks/feedback_replay.py [--start 200] [--every 200] [--limit 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sklearn.metrics import accuracy_score, f1_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent.graph import triage  # noqa: E402
from config.components import Components  # noqa: E402
from config.settings import Settings  # noqa: E402
from knowledge.importers import parse_mapping, read_tickets  # noqa: E402
from knowledge.schemas import Ticket  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "support_tickets_multilang" / "dataset-tickets-multi-lang-4-20k.csv"
FIELDS = ("queue", "priority", "type")
MAPPING = ["subject=subject", "body=body", "reply=answer", "queue=queue", "priority=priority", "type=type",
           "language=language"]  # fmt: skip


def load_stream() -> list[Ticket]:
    report = read_tickets(DATA, parse_mapping(MAPPING))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # The file has no dates: its order is the stream's order, one ticket a minute.
    return [t.model_copy(update={"created_at": start + timedelta(minutes=i)}) for i, t in enumerate(report.tickets)]


def reviewed(ticket: Ticket, predicted: dict[str, str]) -> Ticket:
    sources = {
        name: ("human_confirmed" if predicted.get(name) == value else "human_corrected")
        for name, value in ticket.labels.items()
    }
    return ticket.model_copy(update={"label_sources": sources})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=int, default=200)
    parser.add_argument("--every", type=int, default=200)
    parser.add_argument("--limit", type=int, default=0, help="Stop after this many streamed tickets (0: all).")
    parser.add_argument("--min-labels", type=int, default=50)
    args = parser.parse_args()
    if not DATA.is_file():
        print(f"skipped: {DATA} is absent (it lives in ../shared/data beside the project)")
        return 0
    stream = load_stream()
    seed, rest = stream[: args.start], stream[args.start :]
    if args.limit:
        rest = rest[: args.limit]
    print(f"{len(stream)} tickets: {len(seed)} labelled to start, {len(rest)} streamed in batches of {args.every}")
    with tempfile.TemporaryDirectory(prefix="caseworker-replay-") as tmp:
        workspace = Components(Settings(data_dir=Path(tmp), min_labels_per_field=args.min_labels))
        workspace.ingest.tickets([reviewed(t, {}) for t in seed])
        started = time.perf_counter()
        (first,) = workspace.train()
        print(f"initial model {first.version}: trained in {time.perf_counter() - started:.1f}s, "
              f"{'promoted' if first.promoted else 'candidate'}")  # fmt: skip
        curve: list[list[str]] = []
        for batch_start in range(0, len(rest), args.every):
            batch = rest[batch_start : batch_start + args.every]
            context = workspace.context()
            version = workspace.registry.champion_version("default")
            truth: dict[str, list[str]] = {f: [] for f in FIELDS}
            guess: dict[str, list[str]] = {f: [] for f in FIELDS}
            corrected = []
            for ticket in batch:
                incoming = ticket.model_copy(update={"labels": {}, "label_sources": {}, "reply": None})
                result = triage(incoming, context)
                predicted = {name: p.value for name, p in result.classification.predictions().items()}
                for field in FIELDS:
                    if field in ticket.labels:
                        truth[field].append(ticket.labels[field])
                        guess[field].append(predicted.get(field, "<none>"))
                corrected.append(reviewed(ticket, predicted))
            row = [f"{args.start + batch_start + 1}-{args.start + batch_start + len(batch)}", version or "-"]
            for field in FIELDS:
                acc = accuracy_score(truth[field], guess[field])
                macro = f1_score(truth[field], guess[field], labels=sorted(set(truth[field])), average="macro")
                row.append(f"{acc:.3f} / {macro:.3f}")
            curve.append(row)
            print("batch " + " | ".join(row), flush=True)
            workspace.ingest.tickets(corrected)
            started = time.perf_counter()
            (report,) = workspace.train()
            wall = time.perf_counter() - started
            print(f"  retrain {report.version} on {report.record.n_train} tickets in {wall:.1f}s: "
                  f"{'PROMOTED' if report.promoted else 'kept as candidate'}")  # fmt: skip
            for reason in report.reasons:
                print(f"    {reason}")
        print("\n| tickets | model | " + " | ".join(f"{f} acc / macro-F1" for f in FIELDS) + " |")
        print("|---|---|" + "---|" * len(FIELDS))
        for row in curve:
            print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

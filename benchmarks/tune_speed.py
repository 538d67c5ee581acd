"""How fast `caseworker train --tune-encoder` learns on this machine: tickets per second of training steps on
support_tickets_multilang's texts (subject + body, cut at 128 tokens as in tuning), and the time an epoch of
10,000 tickets would take at that rate (an extrapolation: it says so). Reads ../shared/data; skips without it.

    .venv/bin/python benchmarks/tune_speed.py [--tickets 400] [--budget 120]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

from knowledge.encoder_tuning import TuneOptions, tune_encoder
from knowledge.text import model_text

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "support_tickets_multilang"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=400)
    parser.add_argument("--budget", type=float, default=120.0)
    args = parser.parse_args()
    files = sorted(DATA.glob("*.csv")) if DATA.is_dir() else []
    if not files:
        sys.exit(f"skipped: no data in {DATA}")
    with files[0].open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("queue")][: args.tickets]
    texts = [model_text(r.get("subject") or "", r.get("body") or "") for r in rows]
    labels = {name: [r.get(name) or None for r in rows] for name in ("queue", "priority", "type")}
    with tempfile.TemporaryDirectory() as out:
        result = tune_encoder(texts, labels, Path(out), TuneOptions(time_budget_s=args.budget, quantize="never"))
    stepping = result.train_seconds - result.load_seconds
    rate = result.examples_seen / stepping
    print(f"{len(texts)} tickets, {result.steps} steps of {TuneOptions().batch_size}: {result.examples_seen} "
          f"tickets in {stepping:.1f} s of steps = {rate:.2f} tickets/s (load {result.load_seconds:.1f} s, "
          f"export {result.export_seconds:.1f} s)")  # fmt: skip
    print(f"extrapolated: one epoch of 10,000 tickets = {10_000 / rate / 60:.0f} min of steps at this rate")


if __name__ == "__main__":
    main()

"""`finetune build` speed, step by step, on support_tickets_multilang (or the first N rows of it).

    .venv/bin/python benchmarks/finetune_build.py --rows 500

Prints seconds per step (scrub, embed, then render + split + write), tickets/s overall and peak RSS. Embedding
dominates; everything else is a few seconds for 2,000 tickets. Skips when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

from finetune.build import build_dataset
from finetune.schemas import BuildOptions, SourceInfo
from knowledge.embeddings import local_embedder
from knowledge.importers import parse_mapping, read_tickets

DATASET = (
    Path(__file__).resolve().parents[2] / "shared/data/support_tickets_multilang/dataset-tickets-multi-lang-4-20k.csv"
)
MAP = ["text=subject,body", "queue=queue", "priority=priority", "type=type", "reply=answer"]


class StepTimer:
    """The build's Progress protocol, recording when each step starts."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def start(self, description: str, total: int) -> None:
        self.marks.append((description, time.perf_counter()))

    def advance(self, amount: int = 1) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=0, help="use only the first N tickets (0: all)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    args = parser.parse_args()
    if not DATASET.is_file():
        sys.exit(f"skipped: {DATASET} is absent")
    tickets = read_tickets(DATASET, parse_mapping(MAP)).tickets
    tickets = tickets[: args.rows] if args.rows else tickets
    embedder = local_embedder(args.threads)
    embedder.embed(["warm-up"])
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        manifest = build_dataset(tickets, BuildOptions(), embedder, Path(tmp), progress=timer,
                                 source=SourceInfo(kind="file", path=str(DATASET)))  # fmt: skip
        finished = time.perf_counter()
    # The last step runs to the end: rendering, the split and writing the files.
    marks = [*timer.marks, ("end", finished)]
    steps = [(name, later - at) for (name, at), (_, later) in itertools.pairwise(marks)]
    for name, seconds in steps:
        print(f"{name:<26} {seconds:7.1f} s")
    total = finished - started
    examples = sum(c.train + c.val for c in manifest.examples.values())
    print(f"{len(tickets)} tickets → {examples} examples in {total:.1f} s ({len(tickets) / total:.1f} tickets/s)")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

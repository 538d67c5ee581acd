"""Where the surge similarity threshold sits for each embedder, on real customer messages.

The surge detector groups tickets whose cosine is at least `similarity`; MiniLM's value (0.5) was picked on
benchmarks/surge_replay.py. e5's cosines crowd into a narrow high band, so the same number means something
else there. On `--n` BANKING77 messages (../shared/data/banking77/train.csv, 77 intents) this prints, per
embedder, percentiles of all message pairs' cosines, and for candidate thresholds the share of all pairs
above it (how much of the background one message gathers) and of same-intent pairs (how much of its own
kind); then e5's threshold at the quantile where MiniLM's sits (quantile matching, as config.settings does
for the other thresholds).

    .venv/bin/python benchmarks/surge_similarity.py [--n 800 --seed 7]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.surge_replay import _pool
from config.settings import EMBEDDER_THRESHOLDS
from knowledge.embeddings import embedder_named

PERCENTILES = (50, 90, 99, 99.5, 99.9)


def pair_cosines(vectors: np.ndarray, intents: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of every unordered pair, and whether the pair shares an intent."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    upper = np.triu_indices(len(unit), k=1)
    labels = np.asarray(intents)
    return (unit @ unit.T)[upper], (labels[:, None] == labels[None, :])[upper]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=800)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    texts, intents = _pool(args.n, np.random.default_rng(args.seed))
    pairs = {}
    for name in ("minilm", "e5-small"):
        cosines, same = pair_cosines(embedder_named(name).embed(texts), intents)
        pairs[name] = (cosines, same)
        spread = " ".join(f"p{p}={np.percentile(cosines, p):.3f}" for p in PERCENTILES)
        print(f"{name:<9} {len(cosines)} pairs ({int(same.sum())} same-intent): {spread}")
    minilm = EMBEDDER_THRESHOLDS["minilm"].surge_similarity
    share = float(np.mean(pairs["minilm"][0] >= minilm))
    mapped = float(np.quantile(pairs["e5-small"][0], 1 - share))
    print(f"MiniLM {minilm}: {share:.4%} of all pairs above it -> e5 at the same quantile: {mapped:.3f}")
    for name, thresholds in (("minilm", (0.45, 0.5, 0.55, 0.6)), ("e5-small", (0.86, 0.87, 0.88, round(mapped, 3)))):
        cosines, same = pairs[name]
        for t in thresholds:
            above = cosines >= t
            print(f"  {name:<9} >= {t:<6}: all pairs {np.mean(above):7.3%}, same-intent pairs "
                  f"{np.mean(above[same]):6.1%}, other-intent pairs {np.mean(above[~same]):7.3%}")  # fmt: skip


if __name__ == "__main__":
    main()

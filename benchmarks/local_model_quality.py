"""Quality and speed of the local model on public labelled datasets (run on demand, not in the suite).

    python benchmarks/local_model_quality.py --dataset banking77
    python benchmarks/local_model_quality.py --dataset nlbse24
    python benchmarks/local_model_quality.py --dataset clinc150

Reads the datasets from ../shared/data (see its README for sources and published figures) and never
copies their text anywhere. Embeddings are cached under --cache-dir (default: the system temp dir),
keyed by a hash of the texts, so re-runs measure the classifier alone. The TF-IDF + LR baseline printed
beside it is `evals.baselines.tfidf_lr`, the one every eval report compares with (--no-baseline skips
it). Exits 0 with "skipped: ..." when the data folder is absent.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent.local_model import LocalModel  # noqa: E402
from evals.baselines import PRIMARY_BASELINE, tfidf_lr  # noqa: E402
from evals.metrics import macro_f1, paired_bootstrap_delta  # noqa: E402

# Issue bodies can hold whole logs; the csv module's default 128 KiB field limit rejects some.
csv.field_size_limit(2**31 - 1)

PUBLISHED = {
    "banking77": "accuracy: 93.66 fine-tuned BERT, 94.0 SetFit (Casanueva et al. 2020; Loukas et al. 2023)",
    "nlbse24": "macro-F1 mean over 5 repos: 0.827 SetFit, 0.792 RoBERTa, 0.718 fastText (NLBSE'24)",
    "clinc150": "in-scope accuracy: 96.9 BERT, 93.5 MLP (Larson et al. 2019, oos-train setting)",
}


@dataclass
class Split:
    texts: list[str]
    labels: list[str]
    groups: list[str] | None = None  # NLBSE'24 scores each repository separately


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load(dataset: str, root: Path) -> tuple[Split, Split]:
    if dataset == "banking77":
        train, test = (_read_csv(root / "banking77" / f"{s}.csv") for s in ("train", "test"))
        return Split([r["text"] for r in train], [r["category"] for r in train]), Split(
            [r["text"] for r in test], [r["category"] for r in test]
        )
    if dataset == "nlbse24":
        folder = root / "nlbse24_github_issues"
        splits = []
        for name in ("train", "test"):
            rows = _read_csv(folder / f"issues_{name}.csv")
            # Title first, then body: the model treats the first line as the subject, as for tickets.
            texts = [f"{r['title'] or ''}\n{r['body'] or ''}" for r in rows]
            splits.append(Split(texts, [r["label"] for r in rows], [r["repo"] for r in rows]))
        return splits[0], splits[1]
    if dataset == "clinc150":
        data = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
        # In-scope only: out-of-scope detection is the novelty signal's job, not the classifier's.
        train_split, test_split = (
            Split([t for t, _ in data[s]], [lab for _, lab in data[s]]) for s in ("train", "test")
        )
        return train_split, test_split
    raise ValueError(dataset)


def required_path(dataset: str, root: Path) -> Path:
    return root / {"banking77": "banking77", "nlbse24": "nlbse24_github_issues", "clinc150": "clinc150"}[dataset]


def embed(texts: list[str], cache_dir: Path, threads: int) -> tuple[np.ndarray, float]:
    """Embeddings, from the cache when these exact texts were embedded before; returns (vectors, seconds)."""
    from knowledge.embeddings import MODEL_ID, local_embedder

    key = hashlib.sha256("\x00".join([MODEL_ID, *texts]).encode("utf-8", "surrogatepass")).hexdigest()[:16]
    path = cache_dir / f"{key}.npy"
    if path.is_file():
        return np.load(path), 0.0
    started = time.perf_counter()
    vectors = local_embedder(threads).embed(texts)
    seconds = time.perf_counter() - started
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, seconds


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    return float(
        sum(
            abs(correct[which == b].mean() - confidence[which == b].mean()) * (which == b).mean()
            for b in range(bins)
            if (which == b).any()
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=sorted(PUBLISHED), default="banking77")
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "caseworker_emb_cache")
    parser.add_argument("--threads", type=int, default=2, help="embedding threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF + LR baseline (minutes on 10k)")
    args = parser.parse_args(argv)

    folder = required_path(args.dataset, args.data_root)
    if not folder.is_dir():
        print(f"skipped: {folder} not found")
        return 0
    train, test = load(args.dataset, args.data_root)
    print(f"{args.dataset}: {len(train.texts)} train / {len(test.texts)} test, {len(set(train.labels))} classes")

    train_vectors, train_embed_s = embed(train.texts, args.cache_dir, args.threads)
    test_vectors, test_embed_s = embed(test.texts, args.cache_dir, args.threads)
    if train_embed_s or test_embed_s:
        print(f"embedding: {train_embed_s + test_embed_s:.1f}s (cached for the next run)")

    started = time.perf_counter()
    model = LocalModel.train(
        train.texts, train_vectors, {"label": train.labels}, seed=args.seed, progress=lambda m: print(f"  {m}")
    )
    train_s = time.perf_counter() - started

    started = time.perf_counter()
    guesses = [g["label"] for g in model.predict(test.texts, test_vectors)]
    predict_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(min(200, len(test.texts))):
        model.predict([test.texts[i]], test_vectors[i : i + 1])
    single_ms = (time.perf_counter() - started) / min(200, len(test.texts)) * 1000

    predicted = [g.value for g in guesses]
    correct = np.array([p == t for p, t in zip(predicted, test.labels, strict=True)])
    confidence = np.array([g.confidence for g in guesses])
    print(f"accuracy       {correct.mean() * 100:.2f} %")
    print(f"macro-F1       {macro_f1(test.labels, predicted):.4f}")
    if test.groups is not None:
        per_group = {
            group: macro_f1(
                [t for t, g in zip(test.labels, test.groups, strict=True) if g == group],
                [p for p, g in zip(predicted, test.groups, strict=True) if g == group],
            )
            for group in sorted(set(test.groups))
        }
        for group, score in per_group.items():
            print(f"  macro-F1 {group:25s} {score:.4f}")
        print(f"macro-F1 mean over groups {np.mean(list(per_group.values())):.4f}")
    print(f"ECE (10 bins)  {expected_calibration_error(confidence, correct):.4f}")
    print(f"mean confidence {confidence.mean():.3f}")
    print(f"train          {train_s:.1f}s ({len(train.texts)} rows, excluding embedding)")
    print(
        f"predict        {predict_s:.2f}s batch ({predict_s / len(test.texts) * 1000:.2f} ms/ticket), "
        f"{single_ms:.1f} ms/ticket one at a time"
    )
    if not args.no_baseline:
        # The same baseline, same code, as every `caseworker eval` report compares with.
        started = time.perf_counter()
        baseline = tfidf_lr(train.texts, train.labels, test.texts, seed=args.seed).values
        delta = paired_bootstrap_delta(test.labels, predicted, baseline, seed=args.seed)
        print(
            f"{PRIMARY_BASELINE:14s} macro-F1 {macro_f1(test.labels, baseline):.4f}, accuracy "
            f"{np.mean([b == t for b, t in zip(baseline, test.labels, strict=True)]) * 100:.2f} % "
            f"({time.perf_counter() - started:.0f}s); ours minus it: {delta.delta:+.4f} macro-F1 "
            f"(95 % paired bootstrap {delta.low:+.4f} to {delta.high:+.4f})"
        )
    print(f"published      {PUBLISHED[args.dataset]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

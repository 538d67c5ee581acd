"""Figures for manifest.json: token statistics, class distributions, cost estimate, file digests."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from finetune.schemas import DEFAULT_PRICES_PER_MILLION, CostEstimate, FileEntry, TokenStats

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_\d+>")


class PriceTableError(ValueError):
    """A price table file that cannot be used."""


def load_price_table(path: Path | None) -> tuple[dict[str, float], str]:
    """The price table (USD per 1M training tokens by model) and where it came from."""
    if path is None:
        return dict(DEFAULT_PRICES_PER_MILLION), "built-in table (OpenAI list prices, 2025)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceTableError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise PriceTableError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise PriceTableError(f'{path}: expected an object like {{"model": usd_per_million_tokens}}')
    table: dict[str, float] = {}
    for model, price in data.items():
        if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
            raise PriceTableError(f"{path}: {model}: price must be a non-negative number, got {price!r}")
        table[str(model)] = float(price)
    return table, str(path)


def token_stats(counts: Sequence[int], assistant: Sequence[int] = ()) -> TokenStats:
    if not counts:
        return TokenStats()
    ordered = sorted(counts)

    def percentile(p: float) -> int:
        # Nearest-rank: an actual example's size, never an interpolated one.
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return TokenStats(
        examples=len(ordered),
        total=sum(ordered),
        min=ordered[0],
        mean=round(sum(ordered) / len(ordered), 1),
        p50=percentile(0.5),
        p95=percentile(0.95),
        max=ordered[-1],
        assistant_total=sum(assistant),
    )


def cost_estimate(
    train_tokens: int, target_model: str, epochs: int, prices: Mapping[str, float], price_source: str
) -> CostEstimate:
    price = prices.get(target_model)
    total = train_tokens * epochs
    return CostEstimate(
        target_model=target_model,
        epochs=epochs,
        training_tokens_per_epoch=train_tokens,
        estimated_training_tokens=total,
        usd_per_million_tokens=price,
        estimated_cost_usd=None if price is None else round(total / 1_000_000 * price, 4),
        price_source=price_source if price is not None else f"{target_model} not in {price_source}",
    )


def distribution(label_sets: Iterable[Mapping[str, str]]) -> dict[str, dict[str, int]]:
    """field → value → count, both sorted so the manifest diff-reads well."""
    counts: dict[str, Counter[str]] = {}
    for labels in label_sets:
        for name, value in labels.items():
            counts.setdefault(name, Counter())[value] += 1
    return {name: dict(sorted(counts[name].items())) for name in sorted(counts)}


def placeholder_counts(lines: Iterable[str]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(_PLACEHOLDER.findall(line))
    return dict(sorted(counts.items()))


def write_jsonl(path: Path, rows: Iterable[Mapping[str, object]]) -> FileEntry:
    """Write rows as JSON lines (UTF-8, LF) and describe the file by size, rows and sha256."""
    digest = hashlib.sha256()
    size = lines = 0
    with path.open("wb") as sink:
        for row in rows:
            data = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
            sink.write(data)
            digest.update(data)
            size += len(data)
            lines += 1
    return FileEntry(examples=lines, bytes=size, sha256=digest.hexdigest())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

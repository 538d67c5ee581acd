"""Cross-lingual KB retrieval recall@k for each embedder: 48 de/es/fr/pt tickets against the sample company's
39 English articles (tests/crosslingual_tickets.py says how they were written).

    .venv/bin/python benchmarks/crosslingual_retrieval.py [--k 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.components import Components
from config.settings import Settings
from tests.crosslingual_tickets import ingest_sample_kb, recall_at_k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    print(f"| embedder | recall@{args.k} all | de | es | fr | pt | seconds |")
    print("|---|---|---|---|---|---|---|")
    for embedder in ("minilm", "e5-small"):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            ws = Components(Settings(data_dir=Path(tmp), embedder=embedder))  # type: ignore[arg-type]
            ingest_sample_kb(ws)
            r = recall_at_k(ws, args.k)
            cells = " | ".join(f"{r[lang]:.3f}" for lang in ("all", "de", "es", "fr", "pt"))
            print(f"| {embedder} | {cells} | {time.perf_counter() - started:.1f} |", flush=True)


if __name__ == "__main__":
    main()

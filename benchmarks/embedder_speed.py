"""Texts per second of each embedder, one text per call and in batches of 16, at 1 and 2 threads.

    .venv/bin/python benchmarks/embedder_speed.py [--texts 96]

Each thread setting runs in its own process (e5's OpenMP pool is sized once per process). Prints the load
average beside each figure: on a shared machine the figures move with it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXTS = [
    "My invoice shows a double charge for the monthly subscription, please refund it.",
    "Die VPN-Verbindung bricht seit dem Update alle zehn Minuten ab und ich muss mich neu anmelden.",
    "No puedo restablecer mi contraseña, el enlace del correo ha caducado y necesito entrar hoy.",
]


def measure(embedder: str, threads: int, n: int) -> None:
    from knowledge.embeddings import embedder_named

    model = embedder_named(embedder, threads)
    texts = [f"{TEXTS[i % len(TEXTS)]} Ticket {i}." for i in range(n)]
    model.embed(texts[:8])  # warm-up
    started = time.perf_counter()
    for text in texts[: n // 2]:
        model.embed([text])
    single = (n // 2) / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(0, n, 16):
        model.embed(texts[i : i + 16])
    batched = n / (time.perf_counter() - started)
    load = os.getloadavg()[0]
    print(f"| {embedder} | {threads} | {single:.1f} | {batched:.1f} | {load:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=96)
    parser.add_argument("--one", nargs=2, metavar=("EMBEDDER", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        measure(args.one[0], int(args.one[1]), args.texts)
        return
    print("| embedder | threads | single texts/s | batched (16) texts/s | load average |")
    print("|---|---|---|---|---|")
    for embedder in ("minilm", "e5-small"):
        for threads in (1, 2):
            subprocess.run([sys.executable, __file__, "--texts", str(args.texts), "--one", embedder, str(threads)],
                           check=True)  # fmt: skip


if __name__ == "__main__":
    main()

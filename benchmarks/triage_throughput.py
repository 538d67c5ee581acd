"""Triage throughput in local mode on the bundled sample company.

    .venv/bin/python benchmarks/triage_throughput.py --tickets 200

Prints tickets/s, p50/p95 ms per ticket, the embedding model's own texts/s on the same texts (one at
a time, as the pipeline embeds them, and batched), the pipeline overhead ratio, and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

from agent.graph import triage
from caseworker.demo import sample_dir
from config.components import Components
from config.settings import Settings
from knowledge.importers import read_tickets
from knowledge.kb_importer import read_kb
from knowledge.text import model_text


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=200, help="tickets to triage (cycled from the sample history)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    args = parser.parse_args()

    samples = sample_dir()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Components(Settings(data_dir=Path(tmp), embedding_threads=args.threads))
        history = read_tickets(samples / "history.jsonl").tickets
        started = time.perf_counter()
        workspace.install_taxonomy(samples / "taxonomy.toml")
        workspace.ingest.tickets(history)
        workspace.ingest.kb(read_kb(samples / "kb").articles)
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        workspace.train()
        train_s = time.perf_counter() - started
        context = workspace.context()

        # History tickets are excluded from their own retrieval by id, so they behave as unseen.
        tickets = list(islice(cycle(history), args.tickets))
        triage(tickets[0], context)  # warm-up: first-call costs (graph compile, caches) are not throughput
        latencies = []
        started = time.perf_counter()
        for ticket in tickets:
            t0 = time.perf_counter()
            triage(ticket, context)
            latencies.append((time.perf_counter() - t0) * 1000)
        triage_s = time.perf_counter() - started

        texts = [model_text(t.subject, t.body) for t in tickets]
        started = time.perf_counter()
        for text in texts:
            workspace.embedder.embed([text])
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        workspace.embedder.embed(texts)
        batched_s = time.perf_counter() - started

    tickets_per_s = len(tickets) / triage_s
    embed_per_s = len(texts) / single_s
    print(f"history ingest: {len(history)} tickets + KB in {ingest_s:.1f} s; train: {train_s:.1f} s")
    print(f"triage: {len(tickets)} tickets in {triage_s:.1f} s = {tickets_per_s:.1f} tickets/s")
    print(f"latency per ticket: p50 {statistics.median(latencies):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms")
    print(f"embedding alone: {embed_per_s:.1f} texts/s one at a time, {len(texts) / batched_s:.1f} texts/s batched")
    print(f"pipeline overhead: embedding rate / triage rate = {embed_per_s / tickets_per_s:.2f}x")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

"""Triage and ingest throughput in local mode on the bundled sample company, against the embedding model's own
batched rate on the same texts, in one run.

    .venv/bin/python benchmarks/triage_throughput.py --tickets 200 [--embedder e5-small] [--batch-size 64]

Prints: the embedder's batched texts/s (measured beside each phase, since a shared machine's load moves);
ingest tickets/s and its ratio to that rate (target >= 0.9); batched triage tickets/s (agent/batch.py) and
its ratio (target >= 0.8); one-at-a-time triage tickets/s and per-ticket p50/p95 latency (target p95 <= 50 ms
on an idle machine); the load average at each step, and peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from itertools import cycle, islice
from pathlib import Path

from agent.batch import BATCH_SIZE, triage_many
from agent.graph import triage
from caseworker.demo import sample_dir
from config.components import Components
from config.settings import Settings
from knowledge.embeddings import Embedder
from knowledge.importers import read_tickets
from knowledge.kb_importer import read_kb
from knowledge.schemas import Ticket
from knowledge.text import ticket_model_text


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def load() -> str:
    return "load average " + " / ".join(f"{x:.1f}" for x in os.getloadavg())


def embed_rate(embedder: Embedder, tickets: list[Ticket]) -> tuple[float, float]:
    """The embedder's own batched rate on these tickets' model texts (one call: it batches internally), and its
    CPU ms per text."""
    texts = [ticket_model_text(t) for t in tickets]
    wall, cpu = cpu_timed(lambda: embedder.embed(texts))
    return len(texts) / wall, cpu * 1000 / len(texts)


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def cpu_timed(run: Callable[[], object]) -> tuple[float, float]:
    """(wall s, process CPU s, every thread of it): CPU time moves less with other processes' load than wall time."""
    cpu = time.process_time()
    wall = timed(run)
    return wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=200, help="tickets to triage (cycled from the sample history)")
    parser.add_argument("--threads", type=int, default=2, help="embedding threads")
    parser.add_argument("--embedder", default="minilm", help="minilm or e5-small (a fresh data dir built with it)")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="tickets per batch in batch mode")
    args = parser.parse_args()

    samples = sample_dir()
    history = read_tickets(samples / "history.jsonl").tickets
    tickets = list(islice(cycle(history), args.tickets))
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Components(Settings(data_dir=Path(tmp), embedding_threads=args.threads, embedder=args.embedder))
        embedder = workspace.embedder
        embedder.embed(["warm-up"])
        workspace.store  # noqa: B018 - open Chroma outside the timed ingest

        rate_ingest, _ = embed_rate(embedder, history)
        print(f"embedding, batched: {rate_ingest:.1f} texts/s on the {len(history)} history texts ({load()})")
        ingest_s = timed(lambda: workspace.ingest.tickets(history))
        ingest_rate = len(history) / ingest_s
        print(f"ingest: {len(history)} tickets in {ingest_s:.1f} s = {ingest_rate:.1f} tickets/s ({load()})")
        workspace.install_taxonomy(samples / "taxonomy.toml")
        workspace.ingest.kb(read_kb(samples / "kb").articles)
        print(f"train: {timed(workspace.train):.1f} s")
        context = workspace.context()
        # History tickets are excluded from their own retrieval by id, so they behave as unseen.
        list(triage_many(tickets[:4], context))  # warm-up: graph compile, language model, caches

        def batched(overlap: bool) -> tuple[float, float]:
            results: list[object] = []
            run = lambda: results.extend(triage_many(tickets, context, batch_size=args.batch_size, overlap=overlap))  # noqa: E731
            wall, cpu = cpu_timed(run)
            failed = [r for r in results if isinstance(r, Exception)]
            if failed:
                raise SystemExit(f"{len(failed)} tickets failed, first: {failed[0]!r}")
            return len(tickets) / wall, cpu * 1000 / len(tickets)

        rate_before, embed_cpu = embed_rate(embedder, tickets)
        print(f"embedding, batched: {rate_before:.1f} texts/s, {embed_cpu:.1f} CPU ms/text ({load()})")
        batch_rate, batch_cpu = batched(overlap=False)
        print(f"batched triage (batch {args.batch_size}): {batch_rate:.1f} tickets/s, "
              f"{batch_cpu:.1f} CPU ms/ticket ({load()})")  # fmt: skip
        overlap_rate, _ = batched(overlap=True)
        print(f"batched triage, next batch prefetched on a thread: {overlap_rate:.1f} tickets/s ({load()})")
        latencies: list[float] = []
        single_wall, single_cpu = cpu_timed(
            lambda: latencies.extend(timed(lambda t=t: triage(t, context)) * 1000 for t in tickets)
        )
        single_rate = len(tickets) / single_wall
        single_cpu_ms = single_cpu * 1000 / len(tickets)
        print(f"one at a time: {single_rate:.1f} tickets/s, {single_cpu_ms:.1f} CPU ms/ticket ({load()})")
        rate_after, _ = embed_rate(embedder, tickets)
        print(f"embedding, batched: {rate_after:.1f} texts/s after triage ({load()})")

    embed_ref = (rate_before + rate_after) / 2
    print()
    ingest_ratio = ingest_rate / rate_ingest
    print(f"ingest / embedding rate = {ingest_rate:.1f} / {rate_ingest:.1f} = {ingest_ratio:.2f} (target >= 0.9)")
    print(f"batched triage / embedding rate = {batch_rate:.1f} / {embed_ref:.1f} = {batch_rate / embed_ref:.2f} "
          "(target >= 0.8; the embedding rate is the mean of its runs before and after triage)")  # fmt: skip
    print(f"  by CPU time: embedding {embed_cpu:.1f} / batched triage {batch_cpu:.1f} ms = {embed_cpu / batch_cpu:.2f}")
    print(f"  with the next batch prefetched on a thread: {overlap_rate / embed_ref:.2f}")
    print(f"one-at-a-time triage / embedding rate = {single_rate / embed_ref:.2f}; batched is "
          f"{batch_rate / single_rate:.2f}x one at a time")  # fmt: skip
    print(f"single-ticket latency: p50 {statistics.median(latencies):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms "
          f"(target p95 <= 50 ms on an idle machine; {load()}, {os.cpu_count()} CPUs)")  # fmt: skip
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

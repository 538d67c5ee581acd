"""Triage several tickets together: embed them in one call, search Chroma with all their vectors per query
and score the local model once per batch, then run each ticket's graph with those inputs (`Prefetched`).

The graph itself is unchanged: its nodes take a prefetched input only when it was computed from the same
model text (and, for the local model's guesses, the same model version) they would use, so a ticket's
result is the one it gets alone. A batch step that fails (one ticket it cannot take) leaves every ticket
of the batch to compute its inputs alone, so a bad ticket fails only its own run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from agent.graph import triage
from agent.local_model import FieldGuess
from agent.schemas import TriageResult
from agent.state import Prefetched, TriageContext
from knowledge.schemas import Ticket
from knowledge.text import ticket_model_text

log = logging.getLogger(__name__)

#: Tickets per batch: large enough that Chroma's per-call costs (lock, filter) are shared and that the
#: embedder, which sorts a call's texts by length, pads little; small enough that the first results of a
#: stream come within a few seconds and a batch's inputs stay under a megabyte. 256 against 64 on an idle
#: 2-core machine: 74.5 vs 69.0 tickets/s, 21.1 vs 24.3 CPU ms per ticket (benchmarks/triage_throughput.py).
BATCH_SIZE = 256


def _rows_by_tenant(tickets: Sequence[Ticket]) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for i, ticket in enumerate(tickets):
        rows.setdefault(ticket.tenant, []).append(i)
    return rows


def prefetch(tickets: Sequence[Ticket], context: TriageContext) -> list[Prefetched]:
    """Each ticket's retrieval and local-model guesses, computed for the whole batch at once."""
    texts = [ticket_model_text(ticket) for ticket in tickets]
    found = context.retriever.retrieve_many(
        texts, [t.tenant for t in tickets], context.k_tickets, context.k_kb, [t.id for t in tickets]
    )
    guesses: list[dict[str, FieldGuess] | None] = [None] * len(tickets)
    versions: list[str | None] = [None] * len(tickets)
    for tenant, rows in _rows_by_tenant(tickets).items():
        model = context.local_model(tenant)
        if model is None:
            continue
        embeddings = np.vstack([found[i].embedding for i in rows])
        for i, guess in zip(rows, model.predict([texts[i] for i in rows], embeddings), strict=True):
            guesses[i], versions[i] = guess, model.version
    return [
        Prefetched(model_text=texts[i], retrieval=found[i], guesses=guesses[i], model_version=versions[i])
        for i in range(len(tickets))
    ]


def prefetch_or_none(tickets: Sequence[Ticket], context: TriageContext) -> list[Prefetched | None]:
    """`prefetch`, or None for every ticket when the batch step fails: each then runs alone, and a ticket
    that cannot be embedded or searched fails its own run only (the error is logged, not hidden)."""
    try:
        return list[Prefetched | None](prefetch(tickets, context))
    except Exception:
        log.exception("batch step failed for %d tickets; triaging them one at a time", len(tickets))
        return [None] * len(tickets)


def batches(items: Sequence[Ticket], size: int = BATCH_SIZE) -> Iterator[Sequence[Ticket]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + max(1, size)]


def triage_many(
    tickets: Sequence[Ticket],
    context: TriageContext,
    *,
    batch_size: int = BATCH_SIZE,
    workers: int = 1,
    overlap: bool = False,
    run: Callable[[Ticket, TriageContext], TriageResult] = triage,
) -> Iterator[TriageResult | Exception]:
    """Each ticket's result (stored by the graph before it is yielded) or the exception its run raised, in
    input order, batch by batch. `workers` > 1 runs a batch's graphs on threads (worth it in LLM modes).

    `overlap`: embed, search and score the next batch on a helper thread while this batch's graphs run (the
    embedder and Chroma work outside the GIL). Off by default: on the 2-core machine it measured no faster,
    as the embedder already keeps both cores busy (benchmarks/triage_throughput.py prints both)."""

    def one(pair: tuple[Ticket, Prefetched | None]) -> TriageResult | Exception:
        ticket, pre = pair
        try:
            return run(ticket, replace(context, prefetched=pre))
        except Exception as exc:  # one bad ticket must not take its batch-mates down
            return exc

    chunks = list(batches(tickets, batch_size))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="triage") if workers > 1 else None
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch") if overlap else None
    try:
        pending: Future[list[Prefetched | None]] | None = None
        for n, batch in enumerate(chunks):
            inputs = pending.result() if pending is not None else prefetch_or_none(batch, context)
            pending = None
            if ahead is not None and n + 1 < len(chunks):
                pending = ahead.submit(prefetch_or_none, chunks[n + 1], context)
            pairs = list(zip(batch, inputs, strict=True))
            yield from (pool.map(one, pairs) if pool is not None else map(one, pairs))
    finally:
        for executor in (pool, ahead):
            if executor is not None:
                executor.shutdown(wait=True)

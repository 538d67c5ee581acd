"""Look-ups the agent makes against what we know: similar resolved tickets and KB articles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from knowledge.embeddings import Embedder
from knowledge.store import ChunkHit, KnowledgeStore, TicketHit


@dataclass(frozen=True)
class Retrieval:
    embedding: np.ndarray
    tickets: list[TicketHit]
    kb: list[ChunkHit]

    @property
    def max_ticket_similarity(self) -> float:
        return max((hit.score for hit in self.tickets), default=0.0)

    @property
    def max_kb_similarity(self) -> float:
        return max((hit.score for hit in self.kb), default=0.0)


class Retriever:
    """Embeds a ticket once and runs both tenant-filtered searches with that one vector."""

    def __init__(self, store: KnowledgeStore, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder

    def retrieve(self, text: str, tenant: str, k_tickets: int, k_kb: int, exclude_id: str | None = None) -> Retrieval:
        return self.retrieve_many([text], [tenant], k_tickets, k_kb, [exclude_id])[0]

    def retrieve_many(
        self,
        texts: Sequence[str],
        tenants: Sequence[str],
        k_tickets: int,
        k_kb: int,
        exclude_ids: Sequence[str | None] | None = None,
    ) -> list[Retrieval]:
        """`retrieve` for a batch: one embedding call, and per tenant one query per collection for all rows.

        Row i's result is exactly what `retrieve` gives for it alone (the embedder's vectors do not depend
        on their batch-mates, and one ticket at a time runs the same queries)."""
        excludes = list(exclude_ids) if exclude_ids is not None else [None] * len(texts)
        embeddings = self.embedder.embed(list(texts))
        out: list[Retrieval | None] = [None] * len(texts)
        rows_of: dict[str, list[int]] = {}
        for i, tenant in enumerate(tenants):
            rows_of.setdefault(tenant, []).append(i)
        for tenant, rows in rows_of.items():
            E = embeddings[rows]
            tickets = self.store.similar_tickets_many(E, tenant, k_tickets, [excludes[i] for i in rows])
            chunks = self.store.search_kb_many(E, tenant, k_kb * 3)
            for j, i in enumerate(rows):
                kb = _best_per_article(chunks[j], k_kb)
                out[i] = Retrieval(embedding=embeddings[i], tickets=tickets[j], kb=kb)
        return [r for r in out if r is not None]

    def search_kb(self, query: str, tenant: str, k: int) -> list[ChunkHit]:
        return self.best_chunk_per_article(self.embedder.embed([query])[0], tenant, k)

    def best_chunk_per_article(self, embedding: np.ndarray, tenant: str, k: int) -> list[ChunkHit]:
        return _best_per_article(self.store.search_kb(embedding, tenant, k * 3), k)


def _best_per_article(hits: Sequence[ChunkHit], k: int) -> list[ChunkHit]:
    # Several chunks of one article often rank together; evidence should name distinct articles.
    best: dict[str, ChunkHit] = {}
    for hit in hits:
        if hit.article_id not in best or hit.score > best[hit.article_id].score:
            best[hit.article_id] = hit
    return sorted(best.values(), key=lambda h: h.score, reverse=True)[:k]

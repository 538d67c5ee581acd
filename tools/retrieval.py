"""Look-ups the agent makes against what we know: similar resolved tickets and KB articles."""

from __future__ import annotations

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
        embedding = self.embedder.embed([text])[0]
        tickets = self.store.similar_tickets(embedding, tenant, k_tickets, exclude_id=exclude_id)
        return Retrieval(embedding=embedding, tickets=tickets, kb=self.best_chunk_per_article(embedding, tenant, k_kb))

    def search_kb(self, query: str, tenant: str, k: int) -> list[ChunkHit]:
        return self.best_chunk_per_article(self.embedder.embed([query])[0], tenant, k)

    def best_chunk_per_article(self, embedding: np.ndarray, tenant: str, k: int) -> list[ChunkHit]:
        # Several chunks of one article often rank together; evidence should name distinct articles.
        best: dict[str, ChunkHit] = {}
        for hit in self.store.search_kb(embedding, tenant, k * 3):
            if hit.article_id not in best or hit.score > best[hit.article_id].score:
                best[hit.article_id] = hit
        return sorted(best.values(), key=lambda h: h.score, reverse=True)[:k]

"""Putting resolved history and knowledge-base articles into the store and the history, idempotently."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from knowledge.chunking import chunk_article
from knowledge.embeddings import DIMENSIONS, Embedder
from knowledge.history import History, UpsertCounts
from knowledge.schemas import Article, Ticket
from knowledge.store import KnowledgeStore
from knowledge.text import ticket_model_text

Progress = Callable[[int], None]
EMBED_BATCH = 64


def _noop(_: int) -> None:
    return None


@dataclass(frozen=True)
class KBCounts:
    articles: int
    chunks: int


class Ingest:
    def __init__(self, history: History, store: KnowledgeStore, embedder: Embedder, kb_chunk_tokens: int) -> None:
        self.history = history
        self.store = store
        self.embedder = embedder
        self.kb_chunk_tokens = kb_chunk_tokens

    def _embed(self, texts: Sequence[str], progress: Progress, passages: bool = False) -> np.ndarray:
        embed = self.embedder.embed_passages if passages else self.embedder.embed
        # Shortest first across the whole import, as one big call would: each batch then pads to texts of
        # nearly its own length (chunks in file order padded short tickets to long neighbours). The vectors
        # do not depend on their batch-mates, so only the speed changes.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: np.ndarray | None = None
        for start in range(0, len(order), EMBED_BATCH):
            rows = order[start : start + EMBED_BATCH]
            vectors = embed([texts[i] for i in rows])
            if out is None:  # the embedder's own width
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
            progress(len(rows))
        return out if out is not None else np.zeros((0, DIMENSIONS), dtype=np.float32)

    def tickets(self, tickets: Sequence[Ticket], progress: Progress = _noop) -> UpsertCounts:
        """Idempotent: unchanged tickets are skipped, changed ones re-embedded and replaced.

        The vector store is written before the history: if the process dies in between, the history
        still lacks those tickets, so the next run re-embeds them instead of skipping them as unchanged.
        """
        counts, changed = self.history.changes(tickets)
        progress(counts.unchanged)
        if changed:
            embeddings = self._embed([ticket_model_text(t) for t in changed], progress)
            self.store.upsert_tickets(changed, embeddings)
            self.history.upsert_tickets(changed)
        self.history.audit("ingest_tickets", {"inserted": counts.inserted, "updated": counts.updated})
        return counts

    def kb(self, articles: Sequence[Article], progress: Progress = _noop, on_total: Progress = _noop) -> KBCounts:
        """Re-ingesting an article replaces all of its chunks (a shorter version leaves no stale tail)."""
        chunks = []
        by_tenant: dict[str, list[str]] = {}
        for article in articles:
            by_tenant.setdefault(article.tenant, []).append(article.id)
            chunks.extend(chunk_article(article, max_tokens=self.kb_chunk_tokens))
        for tenant, article_ids in by_tenant.items():  # one write per tenant, not one per article
            self.store.delete_articles_chunks(tenant, article_ids)
        on_total(len(chunks))
        embeddings = self._embed([c.text for c in chunks], progress, passages=True)
        self.store.upsert_chunks(chunks, embeddings)
        self.history.audit("ingest_kb", {"articles": len(articles), "chunks": len(chunks)})
        return KBCounts(articles=len(articles), chunks=len(chunks))

"""The vector store: resolved tickets and KB chunks in a persistent local Chroma, filtered by tenant.

Embeddings are computed by our own Embedder and passed in explicitly; the collections are still
created with our registered embedding function so Chroma never falls back to its downloading default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.chroma_local import LocalChroma, open_local_chroma
from knowledge.chroma_remote import RemoteChroma
from knowledge.embeddings import TUNED_PREFIX, CaseworkerEmbeddingFunction, Embedder
from knowledge.schemas import ArticleChunk, Ticket

TICKETS = "tickets"
KB_CHUNKS = "kb_chunks"
_REPLY_EXCERPT_CHARS = 1500


class StoreMismatchError(RuntimeError):
    """The persisted collections were built with another embedding model."""


class TenantEncoderError(StoreMismatchError):
    """A tenant's records were to be embedded or searched with an encoder tuned on another tenant's labels."""


@dataclass(frozen=True)
class TicketHit:
    id: str
    score: float
    subject: str
    labels: dict[str, str]
    reply: str | None
    customer_id: str | None
    text: str = ""


@dataclass(frozen=True)
class ChunkHit:
    chunk_id: str
    article_id: str
    title: str
    text: str
    score: float
    category: str | None


@dataclass
class StoredTickets:
    ids: list[str] = field(default_factory=list)
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))


def _key(tenant: str, item_id: str) -> str:
    # Ids are unique per tenant only, so the vector id carries the tenant.
    return f"{tenant}\x1f{item_id}"


class KnowledgeStore:
    """Tickets and KB chunks in Chroma: the directory at `path` (embedded, shared by this host's processes),
    or the Chroma server at `url` (shared by every host)."""

    def __init__(
        self, path: Path, embedder: Embedder, threads: int = 2, url: str | None = None, check_model: bool = True
    ) -> None:
        """`check_model=False` opens collections built with another embedding model (only `reembed` does)."""
        self.embedder = embedder
        function = CaseworkerEmbeddingFunction(threads=threads, model_id=embedder.model_id)
        metadata = {"embedding_model": embedder.model_id}
        self.built_with: dict[str, str | None] = {}

        def open_collections(client: Any) -> dict[str, Any]:
            collections = {
                name: client.get_or_create_collection(
                    name, embedding_function=function, metadata=metadata, configuration={"hnsw": {"space": "cosine"}}
                )
                for name in (TICKETS, KB_CHUNKS)
            }
            for name, collection in collections.items():
                built_with = (collection.metadata or {}).get("embedding_model")
                self.built_with[name] = built_with
                if check_model and built_with != embedder.model_id:
                    tuned = str(built_with).startswith(TUNED_PREFIX)
                    raise StoreMismatchError(
                        f"collection {collection.name!r} in {url or path} was built with {built_with!r}, not "
                        f"{embedder.model_id!r} (the configured embedder): run `caseworker reembed` with the same "
                        "--data-dir and settings to re-embed it (and retrain), or set CASEWORKER_EMBEDDER back"
                        + (" (CASEWORKER_EMBEDDER=tuned: this data dir serves its tuned encoder)" if tuned else "")
                    )
            return collections

        self._chroma: LocalChroma | RemoteChroma = (
            RemoteChroma(url, open_collections) if url else open_local_chroma(path, open_collections)
        )
        self._batch = max(1, min(self._chroma.client.get_max_batch_size(), 1000))

    def check_tenant(self, tenant: str) -> None:
        """An encoder tuned on one tenant's labels (its `tenant`) serves that tenant alone: nothing it learned
        may shape another tenant's vectors, searches or triage (knowledge/embeddings_tuned.py)."""
        owner = getattr(self.embedder, "tenant", None)
        if owner is not None and tenant != owner:
            raise TenantEncoderError(
                f"this data dir's encoder was tuned on tenant {owner!r}'s labels and serves that tenant only, not "
                f"{tenant!r}: give each tenant its own data dir, or `caseworker reembed --embedder minilm` to go back "
                "to the stock encoder"
            )

    # --- writing -------------------------------------------------------------------------------
    def upsert_tickets(self, tickets: Sequence[Ticket], embeddings: np.ndarray) -> None:
        for tenant in {t.tenant for t in tickets}:
            self.check_tenant(tenant)
        self._upsert(
            TICKETS,
            ids=[_key(t.tenant, t.id) for t in tickets],
            embeddings=embeddings,
            documents=[t.text for t in tickets],
            metadatas=[self._ticket_metadata(t) for t in tickets],
        )

    def upsert_chunks(self, chunks: Sequence[ArticleChunk], embeddings: np.ndarray) -> None:
        for tenant in {c.tenant for c in chunks}:
            self.check_tenant(tenant)
        self._upsert(
            KB_CHUNKS,
            ids=[_key(c.tenant, c.id) for c in chunks],
            embeddings=embeddings,
            documents=[c.text for c in chunks],
            metadatas=[
                {
                    "tenant": c.tenant,
                    "chunk_id": c.id,
                    "article_id": c.article_id,
                    "title": c.title,
                    "category": c.category or "",
                    "position": c.position,
                }
                for c in chunks
            ],
        )

    def _upsert(
        self,
        collection: str,
        ids: list[str],
        embeddings: np.ndarray,
        documents: list[str],
        metadatas: list[dict[str, Any]],
    ) -> None:
        # Chroma caps the records per call; large imports go in slices, each its own write so that
        # other processes' reads get in between.
        for start in range(0, len(ids), self._batch):
            end = start + self._batch
            with self._chroma.writing() as collections:
                collections[collection].upsert(
                    ids=ids[start:end],
                    embeddings=embeddings[start:end],
                    documents=documents[start:end],
                    metadatas=metadatas[start:end],
                )

    def delete_article_chunks(self, tenant: str, article_id: str) -> None:
        """Drop an article's old chunks first, so a shorter new version leaves no stale tail behind."""
        self.delete_articles_chunks(tenant, [article_id])

    def delete_articles_chunks(self, tenant: str, article_ids: Sequence[str]) -> None:
        """`delete_article_chunks` for many articles of one tenant, as one write."""
        if not article_ids:
            return
        with self._chroma.writing() as collections:
            collections[KB_CHUNKS].delete(
                where={"$and": [{"tenant": tenant}, {"article_id": {"$in": list(dict.fromkeys(article_ids))}}]}
            )

    @staticmethod
    def _ticket_metadata(ticket: Ticket) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "tenant": ticket.tenant,
            "ticket_id": ticket.id,
            "subject": ticket.subject[:500],
            "resolved": ticket.is_resolved,
            "reply": (ticket.reply or "")[:_REPLY_EXCERPT_CHARS],
            "customer_id": (ticket.customer.id if ticket.customer and ticket.customer.id else ""),
        }
        # Only labels a human or the team's history stands behind: evidence and few-shot examples read these.
        for name, value in ticket.trainable_labels().items():
            meta[f"label_{name}"] = value
        return meta

    # --- reading -------------------------------------------------------------------------------
    def similar_tickets(
        self, embedding: np.ndarray, tenant: str, k: int, exclude_id: str | None = None
    ) -> list[TicketHit]:
        return self.similar_tickets_many(np.asarray(embedding)[None, :], tenant, k, [exclude_id])[0]

    def similar_tickets_many(
        self, embeddings: np.ndarray, tenant: str, k: int, exclude_ids: Sequence[str | None] | None = None
    ) -> list[list[TicketHit]]:
        """The k most similar resolved tickets of `tenant` for each row of `embeddings`, in one query.

        A row's own ticket (`exclude_ids[i]`) is dropped after the search rather than filtered in it: one
        `where` then serves every row of a batch, and asking for k + 1 leaves k once it is dropped (a
        ticket id names one record per tenant). One ticket at a time runs the very same query.
        """
        self.check_tenant(tenant)
        excludes = list(exclude_ids) if exclude_ids is not None else [None] * len(embeddings)
        extra = 1 if any(e is not None for e in excludes) else 0
        where: dict[str, Any] = {"$and": [{"tenant": tenant}, {"resolved": True}]}
        rows = self._query_many(TICKETS, embeddings, k + extra if k > 0 else 0, where, with_documents=True)
        return [
            [self._ticket_hit(meta, distance) for meta, distance in found if meta["ticket_id"] != exclude][:k]
            for found, exclude in zip(rows, excludes, strict=True)
        ]

    @staticmethod
    def _ticket_hit(meta: dict[str, Any], distance: float) -> TicketHit:
        return TicketHit(
            id=str(meta["ticket_id"]),
            score=1.0 - float(distance),
            subject=str(meta.get("subject", "")),
            labels={key[6:]: str(v) for key, v in meta.items() if key.startswith("label_")},
            reply=str(meta.get("reply") or "") or None,
            customer_id=str(meta.get("customer_id") or "") or None,
            text=str(meta.get("_document") or ""),
        )

    def search_kb(self, embedding: np.ndarray, tenant: str, k: int) -> list[ChunkHit]:
        return self.search_kb_many(np.asarray(embedding)[None, :], tenant, k)[0]

    def search_kb_many(self, embeddings: np.ndarray, tenant: str, k: int) -> list[list[ChunkHit]]:
        """The k best KB chunks of `tenant` for each row of `embeddings`, in one query."""
        self.check_tenant(tenant)
        rows = self._query_many(KB_CHUNKS, embeddings, k, {"tenant": tenant}, with_documents=True)
        return [
            [
                ChunkHit(
                    chunk_id=str(meta["chunk_id"]),
                    article_id=str(meta["article_id"]),
                    title=str(meta["title"]),
                    text=str(meta["_document"]),
                    score=1.0 - float(distance),
                    category=str(meta.get("category") or "") or None,
                )
                for meta, distance in found
            ]
            for found in rows
        ]

    def _query_many(
        self,
        collection: str,
        embeddings: np.ndarray,
        k: int,
        where: dict[str, Any],
        with_documents: bool = False,
    ) -> list[list[tuple[dict[str, Any], float]]]:
        """One Chroma query for every row of `embeddings`: its `where` filter is evaluated once per call.

        No `count()` first: Chroma answers an empty collection, or a filter nothing matches, with empty
        results (tests/test_store.py holds it to that), and the count cost a round trip per query.
        """
        queries = np.asarray(embeddings, dtype=np.float32).reshape(len(embeddings), -1)
        if k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        include = ["metadatas", "distances", *(["documents"] if with_documents else [])]
        with self._chroma.reading() as collections:
            result = collections[collection].query(
                query_embeddings=list(queries), n_results=k, where=where, include=include
            )
        out = []
        for i, metadatas in enumerate(result["metadatas"]):
            documents = result["documents"][i] if with_documents else [None] * len(metadatas)
            out.append(
                [
                    ({**meta, "_document": doc}, dist)
                    for meta, doc, dist in zip(metadatas, documents, result["distances"][i], strict=True)
                ]
            )
        return out

    def ticket_embeddings(self, tenant: str | None = None) -> Iterator[tuple[str, str, np.ndarray]]:
        """(tenant, ticket id, embedding) for every stored ticket, paged so memory stays flat."""
        if tenant:
            self.check_tenant(tenant)
        where = {"tenant": tenant} if tenant else None
        offset = 0
        while True:
            with self._chroma.reading() as collections:
                page = collections[TICKETS].get(
                    where=where, include=["embeddings", "metadatas"], limit=1000, offset=offset
                )
            if not page["ids"]:
                return
            for meta, vector in zip(page["metadatas"], page["embeddings"], strict=True):
                yield str(meta["tenant"]), str(meta["ticket_id"]), np.asarray(vector, dtype=np.float32)
            offset += len(page["ids"])

    def copy_into(self, other: KnowledgeStore, progress: Callable[[str, int], None] | None = None) -> None:
        """Every record of both collections, vectors included, into `other` (moving to a Chroma server)."""
        for name in (TICKETS, KB_CHUNKS):
            offset = 0
            while True:
                with self._chroma.reading() as collections:
                    page = collections[name].get(
                        include=["embeddings", "documents", "metadatas"], limit=self._batch, offset=offset
                    )
                if not page["ids"]:
                    break
                other._upsert(name, page["ids"], np.asarray(page["embeddings"]), page["documents"], page["metadatas"])
                offset += len(page["ids"])
                if progress is not None:
                    progress(name, len(page["ids"]))

    # --- re-embedding (knowledge/reembed.py) ----------------------------------------------------------
    def record_ids(self, collection: str) -> list[str]:
        ids: list[str] = []
        while True:
            with self._chroma.reading() as collections:
                page = collections[collection].get(include=[], limit=self._batch, offset=len(ids))
            if not page["ids"]:
                return ids
            ids.extend(page["ids"])

    def records(self, collection: str, ids: Sequence[str]) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        with self._chroma.reading() as collections:
            page = collections[collection].get(ids=list(ids), include=["documents", "metadatas"])
        return list(page["ids"]), list(page["documents"]), list(page["metadatas"])

    def replace_vectors(self, collection: str, ids: list[str], embeddings: np.ndarray) -> None:
        with self._chroma.writing() as collections:
            collections[collection].update(ids=ids, embeddings=embeddings)

    def mark_built_with(self, collection: str, model_id: str) -> None:
        """Record which model the collection's vectors come from (what the constructor checks)."""
        with self._chroma.writing() as collections:
            target = collections[collection]
            target.modify(metadata={**(target.metadata or {}), "embedding_model": model_id})
            self.built_with[collection] = model_id

    def counts(self) -> dict[str, int]:
        with self._chroma.reading() as collections:
            return {name: collection.count() for name, collection in collections.items()}

"""Re-embedding a data dir's collections with another embedding model (`caseworker reembed`).

Vectors are replaced in place, record by record id, so documents, metadata and ids stay as they are.
While it runs, each collection is marked `reembedding:<model>`: a process that opens the store with
either model refuses (and names this command) instead of mixing two models' vectors, and a run that
dies half-way is simply run again. Tickets are embedded from the history (the same ticket view ingest
embeds); KB chunks from their stored text, as passages.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from knowledge.embeddings import Embedder
from knowledge.history import History
from knowledge.store import KB_CHUNKS, TICKETS, KnowledgeStore
from knowledge.text import ticket_model_text

BATCH = 64
Progress = Callable[[str, int], None]


class ReembedReport(BaseModel):
    model_id: str
    tickets: int = 0
    chunks: int = 0
    #: tickets in the store that the history does not hold: embedded from their stored text
    tickets_without_history: int = 0


def _noop(_collection: str, _n: int) -> None:
    return None


def reembed(store: KnowledgeStore, history: History, progress: Progress = _noop) -> ReembedReport:
    """Re-embed every record of `store` with `store.embedder` (open the store with check_model=False)."""
    embedder: Embedder = store.embedder
    report = ReembedReport(model_id=embedder.model_id)
    for collection in (TICKETS, KB_CHUNKS):
        store.mark_built_with(collection, f"reembedding:{embedder.model_id}")
        all_ids = store.record_ids(collection)
        for start in range(0, len(all_ids), BATCH):
            ids, documents, metadatas = store.records(collection, all_ids[start : start + BATCH])
            for tenant in {str(meta.get("tenant")) for meta in metadatas}:
                store.check_tenant(tenant)  # a tuned encoder re-embeds its own tenant's records only
            if collection == TICKETS:
                texts = []
                for document, meta in zip(documents, metadatas, strict=True):
                    ticket = history.get_ticket(str(meta["tenant"]), str(meta["ticket_id"]))
                    if ticket is None:
                        report.tickets_without_history += 1
                    texts.append(ticket_model_text(ticket) if ticket is not None else document or "")
                store.replace_vectors(collection, ids, embedder.embed(texts))
                report.tickets += len(ids)
            else:
                store.replace_vectors(collection, ids, embedder.embed_passages([d or "" for d in documents]))
                report.chunks += len(ids)
            progress(collection, len(ids))
        store.mark_built_with(collection, embedder.model_id)
    return report

"""Knowledge store and history on the real Chroma and SQLite: idempotence and tenant isolation."""

from __future__ import annotations

import numpy as np

from config.components import Components
from knowledge.schemas import Article
from knowledge.text import ticket_model_text
from tests.conftest import history_tickets, kb_articles


def test_reingest_updates_and_never_duplicates(workspace: Components) -> None:
    first = workspace.ingest.tickets(history_tickets())
    assert (first.inserted, first.updated, first.unchanged) == (12, 0, 0)
    again = workspace.ingest.tickets(history_tickets())
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 12)
    assert workspace.store.counts()["tickets"] == 12
    assert workspace.history.ticket_count() == 12

    edited = history_tickets()
    edited[0] = edited[0].model_copy(update={"subject": "Forgot my password (edited)"})
    third = workspace.ingest.tickets(edited)
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, 11)
    assert workspace.store.counts()["tickets"] == 12
    assert workspace.history.get_ticket("default", "h1").subject == "Forgot my password (edited)"
    hits = workspace.store.similar_tickets(workspace.embedder.embed(["forgot my password"])[0], "default", 1)
    assert hits[0].subject == "Forgot my password (edited)"


def test_tenant_a_never_retrieves_tenant_b(workspace: Components) -> None:
    workspace.ingest.tickets(history_tickets(tenant="acme", prefix="a-"))
    workspace.ingest.tickets(history_tickets(tenant="globex", prefix="g-"))
    workspace.ingest.kb(kb_articles(tenant="acme"))
    query = workspace.embedder.embed(["I forgot my password"])[0]

    acme = workspace.store.similar_tickets(query, "acme", k=50)
    globex = workspace.store.similar_tickets(query, "globex", k=50)
    assert acme and all(hit.id.startswith("a-") for hit in acme)
    assert globex and all(hit.id.startswith("g-") for hit in globex)
    assert workspace.store.search_kb(query, "globex", k=10) == []
    assert workspace.store.search_kb(query, "acme", k=10)
    assert workspace.store.similar_tickets(query, "nobody", k=5) == []


def test_same_ticket_id_in_two_tenants_is_two_tickets(workspace: Components) -> None:
    workspace.ingest.tickets(history_tickets(tenant="acme"))
    workspace.ingest.tickets(history_tickets(tenant="globex"))
    assert workspace.store.counts()["tickets"] == 24
    assert workspace.history.ticket_count() == 24


def test_kb_reingest_replaces_chunks(workspace: Components) -> None:
    long_body = "\n\n".join(f"Step {i}: " + "click the button and wait. " * 30 for i in range(8))
    article = Article(id="KB-9", title="Long guide", body=long_body)
    first = workspace.ingest.kb([article])
    assert first.chunks > 2
    assert workspace.store.counts()["kb_chunks"] == first.chunks
    shorter = workspace.ingest.kb([article.model_copy(update={"body": "Only one short step now."})])
    assert shorter.chunks == 1
    assert workspace.store.counts()["kb_chunks"] == 1


def test_store_reopens_in_a_new_client(workspace: Components) -> None:
    workspace.ingest.kb(kb_articles())
    from knowledge.store import KnowledgeStore

    reopened = KnowledgeStore(workspace.settings.chroma_dir, workspace.embedder)
    query = workspace.embedder.embed(["download my invoice"])[0]
    assert reopened.search_kb(query, "default", 1)[0].article_id == "KB-2"


def test_ingest_interrupted_after_the_vector_write_is_completed_by_a_rerun(workspace: Components) -> None:
    tickets = history_tickets()
    # The process died after Chroma got the vectors but before SQLite committed the tickets.
    workspace.store.upsert_tickets(tickets, workspace.embedder.embed([t.text for t in tickets]))
    counts = workspace.ingest.tickets(tickets)
    assert counts.inserted == 12
    assert workspace.history.ticket_count() == 12
    assert workspace.store.counts()["tickets"] == 12


def test_empty_and_emptied_collections_answer_with_no_hits(workspace: Components) -> None:
    """Searches ask Chroma directly, without a count() first: an empty collection must answer with nothing."""
    query = workspace.embedder.embed(["forgot my password", "invoice please"])
    assert workspace.store.similar_tickets_many(query, "default", 5, ["t1", None]) == [[], []]
    assert workspace.store.search_kb_many(query, "default", 3) == [[], []]
    workspace.ingest.kb(kb_articles())
    assert workspace.store.search_kb(query[0], "default", 3)
    workspace.store.delete_articles_chunks("default", [a.id for a in kb_articles()])
    assert workspace.store.counts()["kb_chunks"] == 0
    assert workspace.store.search_kb(query[0], "default", 3) == []


def test_a_batch_search_finds_what_each_search_alone_finds(workspace: Components) -> None:
    workspace.ingest.tickets(history_tickets())
    tickets = history_tickets()[:6]
    vectors = workspace.embedder.embed([t.text for t in tickets])
    together = workspace.store.similar_tickets_many(vectors, "default", 3, [t.id for t in tickets])
    alone = [
        workspace.store.similar_tickets(v, "default", 3, exclude_id=t.id) for v, t in zip(vectors, tickets, strict=True)
    ]
    assert together == alone
    assert all(len(hits) == 3 and t.id not in {h.id for h in hits} for hits, t in zip(together, tickets, strict=True))


def test_ingest_stores_each_ticket_with_its_own_vector(workspace: Components) -> None:
    """Ingest embeds shortest-first across the import; every vector must still land on its own ticket."""
    tickets = history_tickets()
    workspace.ingest.tickets(tickets)
    stored = {ticket_id: vector for _, ticket_id, vector in workspace.store.ticket_embeddings("default")}
    alone = workspace.embedder.embed([ticket_model_text(t) for t in tickets])
    for ticket, vector in zip(tickets, alone, strict=True):
        np.testing.assert_allclose(stored[ticket.id], vector, atol=1e-6)

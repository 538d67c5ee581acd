"""One Chroma directory, several processes: another process's writes never break (or hide from) a reader.

Before the fix a long-lived process (a `caseworker worker`) failed every tenant-filtered query with
chromadb `InternalError: Error finding id` once another process (the API storing a review decision, or
`caseworker ingest`) had written the same directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import DIMENSIONS, MODEL_ID
from knowledge.schemas import ArticleChunk, Ticket
from knowledge.store import KnowledgeStore

REPO = Path(__file__).resolve().parent.parent

# The child writes through the real KnowledgeStore with deterministic vectors (no embedding model needed).
_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    from knowledge.schemas import ArticleChunk, Ticket
    from knowledge.store import KnowledgeStore
    from tests.test_store_processes import FixedEmbedder, vectors

    store = KnowledgeStore(Path(sys.argv[1]), FixedEmbedder())
    start, count, mode = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    tickets = [Ticket(id=f"t{i}", tenant="acme", subject=f"subject {i}", body="body", labels={"queue": "q"},
                      reply="done") for i in range(start, start + count)]
    if mode == "hang":
        # Hold the write lock after bumping the generation, as a writer killed mid-write would leave it.
        with store._chroma.writing() as collections:
            collections["tickets"].upsert(ids=[f"acme\\x1f{t.id}" for t in tickets], embeddings=vectors(start, count),
                                          documents=["x"] * count,
                                          metadatas=[store._ticket_metadata(t) for t in tickets])
            print("written", flush=True)
            time.sleep(60)
    store.upsert_tickets(tickets, vectors(start, count))
    store.delete_article_chunks("acme", "KB-old")
    store.upsert_chunks([ArticleChunk(id=f"KB-new#{i}", article_id="KB-new", tenant="acme", title="New",
                                      text=f"chunk {i}", position=i) for i in range(3)], vectors(900 + start, 3))
    """
)


class FixedEmbedder:
    model_id = MODEL_ID

    def embed(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - writes pass vectors explicitly
        raise AssertionError("not used")


def vectors(seed: int, count: int) -> np.ndarray:
    rows = np.random.default_rng(seed).random((count, DIMENSIONS)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _write_in_child(path: Path, start: int, count: int, mode: str = "normal") -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-c", _WRITER, str(path), str(start), str(count), mode]
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)


def _ticket_ids(store: KnowledgeStore, query: np.ndarray, k: int = 500) -> set[str]:
    return {hit.id for hit in store.similar_tickets(query, "acme", k)}


def test_reader_sees_other_processes_writes_without_errors(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    store = KnowledgeStore(path, FixedEmbedder())
    store.upsert_chunks(
        [ArticleChunk(id="KB-old#0", article_id="KB-old", tenant="acme", title="Old", text="old", position=0)],
        vectors(1, 1),
    )
    query = vectors(7, 1)[0]
    assert _ticket_ids(store, query) == set()  # loads this process's index before the others write
    for round_ in range(3):
        child = _write_in_child(path, start=round_ * 40, count=40)
        assert child.wait(timeout=120) == 0
        # Every ticket written so far, by the other process, is found through the tenant filter.
        assert _ticket_ids(store, query) == {f"t{i}" for i in range((round_ + 1) * 40)}
        assert {hit.article_id for hit in store.search_kb(query, "acme", 10)} == {"KB-new"}
    assert store.counts() == {"tickets": 120, "kb_chunks": 3}
    # This process can still write after the others did, and reads back everything.
    store.upsert_tickets(
        [Ticket(id="mine", tenant="acme", subject="s", body="b", labels={"queue": "q"}, reply="r")], vectors(5, 1)
    )
    assert len(_ticket_ids(store, query)) == 121


@pytest.mark.slow
def test_writer_killed_mid_write_leaves_readers_consistent(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    store = KnowledgeStore(path, FixedEmbedder())
    query = vectors(7, 1)[0]
    assert _ticket_ids(store, query) == set()
    child = _write_in_child(path, start=0, count=25, mode="hang")
    assert child.stdout is not None and child.stdout.readline().strip() == "written"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    time.sleep(0.1)
    assert _ticket_ids(store, query) == {f"t{i}" for i in range(25)}

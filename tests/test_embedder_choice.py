"""The embedder is chosen per data dir (CASEWORKER_EMBEDDER), recorded in its collections; a data dir built
with one embedder refuses the other with a message naming `caseworker reembed`, which re-embeds it in place
and retrains. Real components throughout: Chroma on disk, SQLite, both embedding engines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from chromadb.api.shared_system_client import SharedSystemClient

from config.components import Components
from config.settings import Settings
from knowledge.chroma_local import _OPEN
from knowledge.embeddings import EMBEDDER_MODEL_IDS, MODEL_ID, embedder_named
from knowledge.store import KB_CHUNKS, TICKETS, StoreMismatchError
from tests.conftest import SMALL_HISTORY, history_tickets, kb_articles

REPO = Path(__file__).resolve().parent.parent
E5_ID = EMBEDDER_MODEL_IDS["e5-small"]


def _components(data_dir: Path, embedder: str) -> Components:
    # A new process's view: every Components below opens the directory afresh (ours and Chroma's caches).
    _OPEN.clear()
    SharedSystemClient.clear_system_cache()
    return Components(Settings(data_dir=data_dir, embedder=embedder, **SMALL_HISTORY))  # type: ignore[arg-type]


def _built_with_minilm(data_dir: Path) -> None:
    ws = _components(data_dir, "minilm")
    ws.ingest.tickets(history_tickets())
    ws.ingest.kb(kb_articles())
    ws.train()


def test_e5_uses_its_prefixes_and_normalises() -> None:
    e5 = embedder_named("e5-small")
    assert e5.model_id == E5_ID
    query, passage = e5.embed(["reset my password"])[0], e5.embed_passages(["reset my password"])[0]
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-4)
    # The same words as `query: ` and as `passage: ` are different inputs to e5, so different vectors.
    assert float(query @ passage) < 0.99
    # MiniLM has no prefixes: its passages are its queries.
    minilm = embedder_named("minilm")
    np.testing.assert_allclose(minilm.embed(["hello"]), minilm.embed_passages(["hello"]))


def test_changing_the_embedder_refuses_until_reembedded(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _built_with_minilm(data_dir)

    with pytest.raises(StoreMismatchError, match="caseworker reembed"):
        _ = _components(data_dir, "e5-small").store

    # The CLI says the same as a usage error (exit 2), without a traceback.
    env = {**os.environ, "CASEWORKER_EMBEDDER": "e5-small", "CASEWORKER_DATA_DIR": str(data_dir)}
    run = subprocess.run(
        [sys.executable, "-m", "caseworker.cli", "triage", "-"],
        cwd=REPO,
        env=env,
        input='{"id": "n1", "subject": "Passwort", "body": "Ich komme nicht mehr rein."}\n',
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2, run.stderr
    assert "caseworker reembed" in run.stderr and "Traceback" not in run.stderr

    run = subprocess.run(
        [sys.executable, "-m", "caseworker.cli", "reembed", "--data-dir", str(data_dir), "--embedder", "e5-small"],
        cwd=REPO,
        env={**os.environ, "CASEWORKER_MIN_LABELS_PER_FIELD": "1", "CASEWORKER_HOLDOUT_SHARE": "0"},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert f"re-embedded {len(history_tickets())} tickets" in run.stderr

    ws = _components(data_dir, "e5-small")
    assert ws.store.built_with == {TICKETS: E5_ID, KB_CHUNKS: E5_ID}
    # Vectors really are e5's: the stored KB chunk is the e5 passage embedding of its text.
    query = ws.embedder.embed(["Ich habe mein Passwort vergessen"])[0]
    assert ws.store.search_kb(query, "default", 1)[0].article_id == "KB-1"
    assert ws.store.similar_tickets(query, "default", 1)[0].labels["category"] == "password_reset"
    model = ws.models.for_tenant("default")
    assert model is not None and model.meta["embedding_model_id"] == E5_ID

    # And back: the old embedder is refused now.
    with pytest.raises(StoreMismatchError):
        _ = _components(data_dir, "minilm").store


def test_a_model_trained_on_other_vectors_is_not_served(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _built_with_minilm(data_dir)
    assert _components(data_dir, "minilm").models.for_tenant("default") is not None

    ws = _components(data_dir, "e5-small")
    report = ws.reembed()
    assert (report.tickets, report.chunks, report.model_id) == (len(history_tickets()), 2, E5_ID)
    champion = ws.models.for_tenant("default")
    assert champion is None  # trained on MiniLM vectors: refused until retrained
    ws.train(promote="always")
    served = ws.models.for_tenant("default")
    assert served is not None and served.meta["embedding_model_id"] == E5_ID
    assert MODEL_ID != E5_ID

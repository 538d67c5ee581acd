"""The encoder tuned on the team's own history (`caseworker train --tune-encoder`, extra caseworker[tune]).

A tiny real tune (60 tickets of the sample company, a 45 s budget: loading alone takes 10-20 s on a shared
machine) must give an ONNX model whose vectors differ
from the stock model's, served by the stock runtime (MiniLMEmbedder) once the data dir is re-embedded and the
classifier retrained on it; its sha256 must refuse a tampered file; and it must serve its own tenant only.
Without torch, the command must say which extra to install. Real components throughout.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from chromadb.api.shared_system_client import SharedSystemClient
from typer.testing import CliRunner

from caseworker.cli import app
from config.components import Components
from config.settings import Settings
from config.tuning import TuningRefusedError, tuning_tenant
from knowledge.chroma_local import _OPEN
from knowledge.embeddings import MODEL_ID, TUNED_PREFIX, EmbeddingModelError, MiniLMEmbedder, embedder_named
from knowledge.embeddings_tuned import ENCODER_DIR, read_manifest
from knowledge.importers import read_tickets
from knowledge.store import TenantEncoderError
from tests.conftest import history_tickets

SAMPLE = Path(__file__).resolve().parents[1] / "caseworker" / "sample_data" / "history.jsonl"
HAS_TORCH = all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers", "onnx"))
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="needs the caseworker[tune] extra (torch, transformers, onnx)")
runner = CliRunner()


def _components(data_dir: Path, embedder: str = "minilm") -> Components:
    _OPEN.clear()  # a new process's view of the directory
    SharedSystemClient.clear_system_cache()
    return Components(Settings(data_dir=data_dir, embedder=embedder, min_labels_per_field=5))  # type: ignore[arg-type]


def _sample_data_dir(tmp_path: Path, n: int = 60) -> Path:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:n]
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data_dir = tmp_path / "data"
    _components(data_dir).ingest.tickets(read_tickets(source).tickets)
    return data_dir


def test_without_torch_the_command_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = _sample_data_dir(tmp_path, 10)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    result = runner.invoke(app, ["train", "--tune-encoder", "--data-dir", str(data_dir)])
    assert result.exit_code == 2
    assert "pip install 'caseworker[tune]'" in result.output
    assert not (data_dir / ENCODER_DIR).exists()


def test_a_data_dir_of_several_tenants_is_not_tuned(tmp_path: Path) -> None:
    workspace = _components(tmp_path / "data")
    workspace.ingest.tickets(history_tickets("acme") + history_tickets("globex"))
    with pytest.raises(TuningRefusedError, match="own data dir"):
        tuning_tenant(workspace, None)
    with pytest.raises(TuningRefusedError, match="acme, globex"):
        tuning_tenant(workspace, "acme")


@pytest.mark.slow
@needs_torch
def test_tiny_tune_is_served_by_the_stock_runtime_and_pinned(tmp_path: Path) -> None:
    data_dir = _sample_data_dir(tmp_path)
    result = runner.invoke(app, ["train", "--tune-encoder", "--time-budget", "45", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "CASEWORKER_EMBEDDER=tuned" in result.output

    manifest = read_manifest(data_dir / ENCODER_DIR)
    assert manifest is not None and manifest.tenant == "default"
    assert manifest.model_id.startswith(TUNED_PREFIX) and manifest.tuning["steps"] >= 1
    # Which bound stops it depends on the machine's speed (a quiet machine finishes 4 epochs of the small
    # sample inside the budget); either way it stopped by itself, within the budget.
    assert manifest.tuning["stopped_by"] in ("budget", "epochs")

    tuned = _components(data_dir, "tuned")
    embedder = tuned.embedder
    assert isinstance(embedder, MiniLMEmbedder) and embedder.model_id == manifest.model_id
    texts = ["I forgot my password and cannot log in", "Please refund the double charge on my card"]
    mine, stock = embedder.embed(texts), embedder_named("minilm").embed(texts)
    np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(mine * stock, axis=1))) < 0.999  # tuned: not the stock vectors
    assert float(np.min(np.sum(mine * stock, axis=1))) > 0.3  # ...but still MiniLM's space, briefly tuned

    # The data dir was re-embedded and the classifier retrained on the tuned vectors.
    assert set(tuned.store.built_with.values()) == {manifest.model_id}
    served = tuned.models.for_tenant("default")
    assert served is not None and served.meta["embedding_model_id"] == manifest.model_id
    # Tuning left a fifth of the labelled tickets out, and the classifier chose its blend on exactly those.
    assert manifest.tuning["blend_share"] == 0.2 and manifest.tuning["n_unseen"] > 0
    assert served.meta["blend_rows_unseen_by_encoder"] == manifest.tuning["n_unseen"]
    with pytest.raises(Exception, match="caseworker reembed"):
        _ = _components(data_dir, "minilm").store  # the stock embedder refuses these collections

    # It serves its own tenant only.
    with pytest.raises(TenantEncoderError, match="serves that tenant only"):
        tuned.ingest.tickets(history_tickets("globex"))
    with pytest.raises(TenantEncoderError):
        tuned.store.similar_tickets(mine[0], "globex", 3)

    # A tampered weights file is refused, like the stock pins.
    weights = data_dir / ENCODER_DIR / manifest.file
    blob = bytearray(weights.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(EmbeddingModelError, match="refusing to load it"):
        _ = _components(data_dir, "tuned").embedder
    assert manifest.model_id != MODEL_ID

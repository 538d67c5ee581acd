"""A data dir's own tuned MiniLM (`caseworker train --tune-encoder`), served by the stock runtime.

The tuned weights are an ONNX export of the same architecture, so they run in `MiniLMEmbedder` with the same
pinned tokenizer, pooling and normalisation; only the weights file differs. It lives in
`DATA_DIR/encoder/<sha256[:16]>.onnx`, and `manifest.json` beside it records its full sha256, which is
checked before every load, exactly like the stock pins: a tampered or swapped file is refused. The model id
(`minilm-tuned-<sha256[:16]>`) is what the collections and every classifier trained on its vectors record,
so a changed encoder means `caseworker reembed` and a retrain, as for any other change of embedder.

Tenants: an encoder tuned on one tenant's labels carries what it learned from them, so it serves that
tenant alone. The manifest names the tenant; the store refuses to write or search any other tenant's
records with it (`KnowledgeStore`), and tuning refuses a data dir that already holds several tenants.

Rows the encoder never saw: tuning leaves a share of the labelled texts out (`unseen_by_encoder`, decided by
each text's hash, so training can tell them apart later without a list). The tuned vectors of the texts it
learned from sit near their class by construction, so the classifier's out-of-fold scores on them overrate
the dense view; it fits its blend on the unseen rows instead (`agent.local_fit`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from knowledge.embeddings import LOADED_TUNED, MODEL_ID, TUNED_PREFIX, EmbeddingModelError, MiniLMEmbedder

ENCODER_DIR = "encoder"
MANIFEST = "manifest.json"
_LOCK = threading.Lock()


class EncoderManifest(BaseModel):
    model_id: str
    sha256: str
    file: str
    tenant: str
    base_model: str = MODEL_ID
    quantized: bool
    created_at: str
    #: What the tuning did (objective, steps, time, fp32-int8 cosine): knowledge.encoder_tuning.TuneResult.
    tuning: dict[str, Any]


def tuned_model_id(sha256: str) -> str:
    return f"{TUNED_PREFIX}{sha256[:16]}"


class TunedEmbedder(MiniLMEmbedder):
    """MiniLM with a data dir's tuned weights; `tenant` is the only tenant it may embed for."""

    def __init__(self, manifest: EncoderManifest, weights: Path, threads: int = 2) -> None:
        super().__init__(threads=threads, weights=weights, model_id=manifest.model_id)
        self.tenant = manifest.tenant
        self.manifest = manifest
        #: Share of the labelled texts tuning left out (`unseen_by_encoder`); 0 for encoders tuned before it.
        self.blend_share = float(manifest.tuning.get("blend_share", 0.0))


def unseen_by_encoder(text: str, share: float) -> bool:
    """Whether tuning with `share` held `text` out: a fixed function of the text, the same in every process."""
    if share <= 0:
        return False
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:4], "big") < share * 2**32


def unseen_rows(embedder: object, texts: Sequence[str]) -> list[bool] | None:
    """Which texts `embedder` was not tuned on, or None for an encoder that saw them all (stock, or tuned
    without a hold-out)."""
    share = float(getattr(embedder, "blend_share", 0.0))
    return [unseen_by_encoder(t, share) for t in texts] if share > 0 else None


def read_manifest(directory: Path) -> EncoderManifest | None:
    path = directory / MANIFEST
    if not path.is_file():
        return None
    return EncoderManifest.model_validate_json(path.read_text(encoding="utf-8"))


def verified_weights(directory: Path, manifest: EncoderManifest) -> Path:
    weights = directory / manifest.file
    if not weights.is_file():
        raise EmbeddingModelError(f"{weights} is missing: run `caseworker train --tune-encoder` again")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    if digest != manifest.sha256 or tuned_model_id(digest) != manifest.model_id:
        raise EmbeddingModelError(f"{weights} has sha256 {digest}, expected {manifest.sha256}: refusing to load it")
    return weights


def load_tuned(directory: Path, threads: int = 2) -> TunedEmbedder:
    """The data dir's tuned encoder, its weights checked against the manifest's sha256 (one per process)."""
    manifest = read_manifest(directory)
    if manifest is None:
        raise EmbeddingModelError(
            f"no tuned encoder in {directory}: run `caseworker train --tune-encoder` (pip install 'caseworker[tune]')"
        )
    with _LOCK:
        loaded = LOADED_TUNED.get(manifest.model_id)
        if isinstance(loaded, TunedEmbedder) and loaded.threads == threads:
            verified_weights(directory, manifest)  # the file may have changed since: check on every open
            return loaded
        embedder = TunedEmbedder(manifest, verified_weights(directory, manifest), threads)
        LOADED_TUNED[manifest.model_id] = embedder
        return embedder


def install(directory: Path, weights: Path, sha256: str, tenant: str, quantized: bool, tuning: dict[str, Any]) -> None:
    """Make `weights` (already in `directory`) the data dir's tuned encoder; older exports are removed."""
    manifest = EncoderManifest(
        model_id=tuned_model_id(sha256), sha256=sha256, file=weights.name, tenant=tenant, quantized=quantized,
        created_at=datetime.now(UTC).isoformat(), tuning=tuning,
    )  # fmt: skip
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest.model_dump(), indent=2), encoding="utf-8")
    tmp.replace(directory / MANIFEST)
    for old in directory.glob("*.onnx"):
        if old.name != weights.name:
            old.unlink()

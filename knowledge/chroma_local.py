"""One embedded Chroma directory shared safely by several processes (serve, workers, CLI commands).

Why this exists: Chroma's `PersistentClient` keeps each collection's HNSW vector index in the memory of
the process that loaded it, while metadata lives in the shared SQLite file. When another process writes
the same directory, this process's metadata filter (`where=`) sees the new records but its in-memory
index does not know them, and every filtered query fails with `InternalError: Error finding id` until
the process reloads. Chroma applies the write log to its index only on its own writes, and HNSW files
written by two processes at once can tear.

So every process coordinates through two small files beside Chroma's own:
- `caseworker.lock`: an advisory `flock`. Writes hold it exclusively; reads and index loads hold it
  shared (a fresh file description per operation, so threads of one process exclude each other too).
- `caseworker.generation`: a counter a writer bumps *before* it changes anything, so even a writer killed
  half-way leaves readers knowing that their in-memory index is stale.

A process whose loaded generation differs from the file's reloads its client (drops Chroma's cached
system for this path and opens it again) before it reads or writes. Reloading costs tens of
milliseconds and happens only after another process wrote.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Chroma reads this at import time in some code paths; set it before chromadb is imported anywhere.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import chromadb
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings

LOCK_FILE = "caseworker.lock"
GENERATION_FILE = "caseworker.generation"

Opener = Callable[[Any], dict[str, Any]]


class LocalChroma:
    """The per-process handle on one Chroma directory; use `open_local_chroma` to share one per path."""

    def __init__(self, path: Path, open_collections: Opener) -> None:
        self.path = path
        self._open_collections = open_collections
        self._lock_path = path / LOCK_FILE
        self._generation_path = path / GENERATION_FILE
        self._lock_path.touch(exist_ok=True)
        self._client: Any = None
        self.collections: dict[str, Any] = {}
        self._loaded: int | None = None
        with self._flock(fcntl.LOCK_EX):
            self._reload()

    # --- the files ---------------------------------------------------------------------------------
    @contextmanager
    def _flock(self, mode: int) -> Iterator[None]:
        with open(self._lock_path, "rb") as handle:  # a new open file description per use: see the docstring
            fcntl.flock(handle, mode)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def generation(self) -> int:
        try:
            return int(self._generation_path.read_text() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            return -1  # unreadable: never equal to a loaded generation, so the next use reloads

    def _bump_generation(self) -> int:
        value = max(self.generation(), 0) + 1
        scratch = self._generation_path.with_suffix(f".{os.getpid()}.{threading.get_ident()}")
        scratch.write_text(str(value))
        os.replace(scratch, self._generation_path)
        return value

    # --- the client ---------------------------------------------------------------------------------
    def _reload(self) -> None:
        """Drop this process's cached Chroma system for the path and open it again (caller holds a lock)."""
        generation = self.generation()
        if self._client is not None:
            identifier = self._client._identifier
            system = SharedSystemClient._identifier_to_system.pop(identifier, None)
            SharedSystemClient._identifier_to_refcount.pop(identifier, None)
            if system is not None:
                system.stop()
        self._client = chromadb.PersistentClient(
            path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )
        self.collections = self._open_collections(self._client)
        self._loaded = generation

    @property
    def client(self) -> Any:
        return self._client

    @contextmanager
    def reading(self) -> Iterator[dict[str, Any]]:
        """The collections, current with every other process's writes, for one read."""
        while True:
            with self._flock(fcntl.LOCK_SH):
                if self.generation() == self._loaded:
                    yield self.collections
                    return
            with self._flock(fcntl.LOCK_EX):
                if self.generation() != self._loaded:
                    self._reload()

    @contextmanager
    def writing(self) -> Iterator[dict[str, Any]]:
        """The collections for one write, exclusive across processes; readers elsewhere reload after it."""
        with self._flock(fcntl.LOCK_EX):
            if self.generation() != self._loaded:
                self._reload()
            generation = self._bump_generation()
            yield self.collections
            # Chroma applied the whole log (other processes' writes too) to this process's index as it wrote.
            self._loaded = generation


_OPEN: dict[str, LocalChroma] = {}
_OPEN_LOCK = threading.Lock()


def open_local_chroma(path: Path, open_collections: Opener) -> LocalChroma:
    """The process's one handle on `path`: Chroma caches one system per directory and process, so two
    handles on one path would reload each other's client out from under them."""
    path.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    with _OPEN_LOCK:
        handle = _OPEN.get(key)
        if handle is None:
            handle = _OPEN[key] = LocalChroma(path, open_collections)
        return handle

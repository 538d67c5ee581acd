"""A Chroma server (`chroma run`) shared by every process on every host: `CASEWORKER_CHROMA_URL=http://host:port`.

The server owns the index, so there is nothing to coordinate between processes: reads and writes go
straight to it. The collections are opened with the same registered embedding function as locally.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import chromadb
from chromadb.config import Settings as ChromaSettings


class ChromaURLError(ValueError):
    """CASEWORKER_CHROMA_URL is not an http(s)://host:port URL."""


def http_client(url: str) -> Any:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChromaURLError(f"CASEWORKER_CHROMA_URL must be http(s)://host:port (got {url!r})")
    return chromadb.HttpClient(
        host=parts.hostname,
        port=parts.port or (443 if parts.scheme == "https" else 8000),
        ssl=parts.scheme == "https",
        settings=ChromaSettings(anonymized_telemetry=False),
    )


class RemoteChroma:
    """The same interface as LocalChroma (knowledge.chroma_local), over a Chroma server."""

    def __init__(self, url: str, open_collections: Callable[[Any], dict[str, Any]]) -> None:
        self.url = url
        self.client = http_client(url)
        self.collections = open_collections(self.client)

    @contextmanager
    def reading(self) -> Iterator[dict[str, Any]]:
        yield self.collections

    @contextmanager
    def writing(self) -> Iterator[dict[str, Any]]:
        yield self.collections

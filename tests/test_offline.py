"""Nothing downloads at run time: ingest, train-free retrieval and token counting in a process that
cannot reach the network, with an empty HOME (so no model cache from earlier runs can help)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Fails any connection that is not loopback, and any DNS lookup: a download attempt becomes an error.
SOCKET_GUARD = textwrap.dedent(
    """
    import socket
    _connect = socket.socket.connect
    def _guarded_connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("::1", "localhost")):
            raise OSError(f"network disabled in this test: connect to {address!r}")
        return _connect(self, address)
    socket.socket.connect = _guarded_connect
    def _no_dns(host, *args, **kwargs):
        if host in ("localhost", "127.0.0.1", "::1", None):
            return _getaddrinfo(host, *args, **kwargs)
        raise OSError(f"network disabled in this test: DNS lookup of {host!r}")
    _getaddrinfo = socket.getaddrinfo
    socket.getaddrinfo = _no_dns
    """
)

SCENARIO = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from config.settings import Settings
    from config.components import Components
    from knowledge.tokens import count_tokens
    from tests.conftest import history_tickets, kb_articles

    ws = Components(Settings(data_dir=Path({data!r})))
    ws.ingest.tickets(history_tickets())
    ws.ingest.kb(kb_articles())
    query = ws.embedder.embed(["I forgot my password"])[0]
    assert ws.store.similar_tickets(query, "default", 3)[0].labels["category"] == "password_reset"
    assert ws.store.search_kb(query, "default", 1)[0].article_id == "KB-1"
    assert count_tokens("hello world") == 2

    # A collection reopened by a new client gets our registered embedding function back, so adding
    # documents without vectors embeds locally instead of reaching for Chroma's downloading default.
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    client = chromadb.PersistentClient(path={chroma!r}, settings=ChromaSettings(anonymized_telemetry=False))
    kb = client.get_collection("kb_chunks")
    kb.add(ids=["probe"], documents=["a probe document"], metadatas=[{{"tenant": "probe"}}])
    print("OFFLINE-OK", kb.count())
    """
)


def _run_offline(tmp_path: Path, prefix: list[str], embedder: str = "minilm") -> subprocess.CompletedProcess[str]:
    data = tmp_path / "data"
    home = tmp_path / "home"
    home.mkdir()
    script = SOCKET_GUARD + SCENARIO.format(repo=str(REPO), data=str(data), chroma=str(data / "chroma"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "CHROMA_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), PYTHONPATH=str(REPO), CASEWORKER_EMBEDDER=embedder)
    return subprocess.run(
        [*prefix, sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


@pytest.mark.slow
@pytest.mark.parametrize("embedder", ["minilm", "e5-small"])
def test_ingest_and_query_with_the_network_guarded(tmp_path: Path, embedder: str) -> None:
    done = _run_offline(tmp_path, [], embedder)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "OFFLINE-OK" in done.stdout
    assert not (tmp_path / "home" / ".cache" / "chroma").exists(), "Chroma downloaded its default model"
    if embedder == "e5-small":
        written = [str(p) for p in (tmp_path / "home").rglob("*")]
        assert not written, f"e5 wrote under HOME: {written}"


@pytest.mark.slow
def test_ingest_and_query_in_a_network_namespace(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -rn is not permitted here; the socket-guard test still covers this")
    done = _run_offline(tmp_path, [unshare, "-rn"])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "OFFLINE-OK" in done.stdout

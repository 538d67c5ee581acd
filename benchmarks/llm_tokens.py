"""Prompt tokens per ticket in llm mode, and LLM calls saved by cascade, on the bundled sample company.

    .venv/bin/python benchmarks/llm_tokens.py                      # scripted stand-in model on 127.0.0.1
    .venv/bin/python benchmarks/llm_tokens.py --base-url http://127.0.0.1:8080/v1 --model gemma

With no --base-url a scripted OpenAI-compatible server answers with schema-valid JSON and reports no
usage, so the client counts the prompt with tiktoken (cl100k): the figures are the real prompt sizes at
the configured evidence k; completion tokens are only meaningful against a real model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fake_llm, the scripted server

from agent.graph import triage
from caseworker.demo import sample_dir
from caseworker.ticket_input import parse_tickets
from config.components import Components
from config.settings import Settings
from knowledge.importers import read_tickets
from knowledge.kb_importer import read_kb
from tests.fake_llm import FakeLLM, Reply, completion, requested_fields, task_of


def scripted(request: dict[str, Any], _n: int) -> Reply:
    task = task_of(request)
    if task == "classify":
        # A middling answer (P2, neutral), so tickets take the usual draft path rather than all escalating.
        usual = {"priority": "P2", "sentiment": "neutral", "churn_risk": "low"}
        fields = requested_fields(request)
        reply = completion(
            {name: {"value": usual.get(name, allowed[0]), "confidence": 0.9} for name, allowed in fields.items()}
        )
    elif task == "tools":
        reply = completion("no look-ups needed")
    elif task == "draft":
        prompt = request["messages"][-1]["content"]
        source = prompt.split('<source id="', 1)[1].split('"', 1)[0] if '<source id="' in prompt else "none"
        reply = completion({"body": "Thanks, here is how to fix it.", "citations": [source]})
    else:
        reply = completion({"summary": "Escalated.", "customer_tried": []})
    reply.body.pop("usage", None)  # make the client count the prompt itself
    return reply


def run(mode: str, base_url: str, model: str, k: int) -> None:
    samples = sample_dir()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), mode=mode, model=model, openai_base_url=base_url, k_tickets=k)
        workspace = Components(settings)
        workspace.install_taxonomy(samples / "taxonomy.toml")
        workspace.ingest.tickets(read_tickets(samples / "history.jsonl").tickets)
        workspace.ingest.kb(read_kb(samples / "kb").articles)
        workspace.train()
        tickets = parse_tickets((samples / "incoming.jsonl").read_text(encoding="utf-8"), "incoming.jsonl").tickets
        context = workspace.context()
        started = time.perf_counter()
        results = [triage(ticket, context) for ticket in tickets]
        seconds = time.perf_counter() - started
    tokens_in = sorted(r.meta.tokens_in for r in results)
    tokens_out = [r.meta.tokens_out for r in results]
    calls = sum(r.meta.llm_calls for r in results)
    saved = sum(r.meta.llm_calls_saved for r in results)
    p95 = tokens_in[min(len(tokens_in) - 1, round(0.95 * (len(tokens_in) - 1)))]
    print(f"{mode}: {len(results)} tickets in {seconds:.1f} s, {calls} LLM calls, cascade saved {saved}")
    print(f"  prompt tokens per ticket: mean {statistics.mean(tokens_in):.0f}, p95 {p95}, max {tokens_in[-1]}")
    print(f"  completion tokens per ticket: mean {statistics.mean(tokens_out):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", help="an OpenAI-compatible endpoint (default: a scripted stand-in)")
    parser.add_argument("--model", default="scripted")
    parser.add_argument("--k", type=int, default=5, help="similar tickets retrieved as evidence")
    args = parser.parse_args()
    if args.base_url:
        for mode in ("llm", "cascade"):
            run(mode, args.base_url, args.model, args.k)
        return
    with FakeLLM(scripted) as server:
        for mode in ("llm", "cascade"):
            run(mode, server.base_url, args.model, args.k)


if __name__ == "__main__":
    main()

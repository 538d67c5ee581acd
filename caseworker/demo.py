"""`caseworker demo`: the whole trip on the bundled sample company, in a fresh data dir."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from caseworker.ticket_input import parse_tickets
from config.components import Components
from config.settings import Settings
from knowledge.importers import read_tickets
from knowledge.kb_importer import read_kb

_MARKERS = ("history.sqlite3", "chroma", "models", "demo")


def sample_dir() -> Path:
    return Path(str(resources.files("caseworker") / "sample_data"))


def _fresh(data_dir: Path) -> None:
    if data_dir.exists():
        if any(data_dir.iterdir()) and not any((data_dir / marker).exists() for marker in _MARKERS):
            raise SystemExit(f"error: {data_dir} exists and is not a Caseworker data dir; refusing to empty it")
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)


def run_demo(settings: Settings, console: Console) -> Path:
    from agent.graph import triage

    started = time.perf_counter()
    samples = sample_dir()
    _fresh(settings.data_dir)
    workspace = Components(settings)

    taxonomy = workspace.install_taxonomy(samples / "taxonomy.toml")
    history = read_tickets(samples / "history.jsonl")
    kb = read_kb(samples / "kb")
    if history.rejects or kb.rejects:
        raise SystemExit(f"error: bundled sample data has rejects: {[str(r) for r in history.rejects + kb.rejects]}")
    with console.status("Ingesting history and knowledge base..."):
        counts = workspace.ingest.tickets(history.tickets)
        kb_counts = workspace.ingest.kb(kb.articles)
    console.print(
        f"Ingested {counts.inserted} resolved tickets, {kb_counts.articles} KB articles "
        f"({kb_counts.chunks} chunks), taxonomy of {len(taxonomy.categories)} categories"
    )
    with console.status("Training the local model...") as status:
        (trained,) = workspace.train(progress=lambda message: status.update(f"Training: {message}"))
    held_out = trained.record.report["n_holdout"]
    console.print(
        f"Trained {trained.version} on {trained.record.n_train} tickets ({held_out} newest held out to score it)"
    )

    incoming = parse_tickets((samples / "incoming.jsonl").read_text(encoding="utf-8"), "incoming.jsonl")
    context = workspace.context()
    out_dir = settings.data_dir / "demo"
    out_dir.mkdir(exist_ok=True)
    results_path = out_dir / "results.jsonl"
    results = []
    triage_started = time.perf_counter()
    with results_path.open("w", encoding="utf-8") as sink, console.status("Triaging incoming tickets..."):
        for ticket in incoming.tickets:
            result = triage(ticket, context)
            sink.write(result.model_dump_json() + "\n")
            results.append((ticket, result))
    triage_seconds = time.perf_counter() - triage_started

    table = Table(title="Caseworker demo: incoming tickets", show_lines=False)
    table.add_column("ticket", no_wrap=True)
    table.add_column("subject", no_wrap=True, overflow="ellipsis", max_width=32)
    table.add_column("category (conf)", no_wrap=True)
    table.add_column("prio", no_wrap=True)
    table.add_column("decision: reason", no_wrap=True)
    for ticket, result in results:
        c = result.classification
        colour = {"escalate": "red", "auto_resolve": "green"}.get(result.decision.action.value, "yellow")
        table.add_row(
            ticket.id,
            ticket.subject,
            f"{c.category.value} ({c.category.confidence:.2f})" if c.category else "-",
            c.priority.value,
            f"[{colour}]{result.decision.action.value}[/{colour}]: {result.decision.reason.value}",
        )
    # Rich assumes 80 columns when output is not a terminal (CI logs); the table needs ~130.
    wide = Console(stderr=True, width=max(console.width, 130)) if not console.is_terminal else console
    wide.print(table)
    mix = Counter(result.decision.action.value for _, result in results)
    holding = sum(1 for _, result in results if result.draft is not None and not result.draft.grounded)
    console.print(
        f"{len(results)} tickets triaged in {triage_seconds:.1f}s "
        f"({', '.join(f'{n} {action}' for action, n in sorted(mix.items()))}; "
        f"{holding} holding {'reply' if holding == 1 else 'replies'} with no grounded answer); "
        f"whole demo {time.perf_counter() - started:.1f}s"
    )
    console.print(f"Results: {results_path}")
    return results_path

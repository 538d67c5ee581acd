"""`caseworker reembed`: move a data dir to the configured embedder (CASEWORKER_EMBEDDER), then retrain.

Registered by cli.py as `app.command("reembed")(reembed_command)`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from caseworker.cli_common import DataDir, components_for, err, fail


def reembed_command(
    embedder: Annotated[
        str | None,
        typer.Option("--embedder", help="minilm, e5-small or tuned (default: CASEWORKER_EMBEDDER, else minilm)."),
    ] = None,
    retrain: Annotated[bool, typer.Option(help="Retrain every tenant's model on the new vectors.")] = True,
    data_dir: DataDir = None,
) -> None:
    """Re-embed every stored ticket and KB chunk with the chosen embedder and retrain the models on the new
    vectors (a model trained on another embedder's vectors is not served). Safe to run again if interrupted.
    Stop `serve` and workers first, and start them again with the same CASEWORKER_EMBEDDER."""
    from agent.local_model import ModelNotTrainedError
    from knowledge.embeddings import EmbeddingModelError

    components = components_for(data_dir, embedder=embedder)
    try:
        with err.status("Re-embedding...") as status:
            done: dict[str, int] = {}

            def advance(collection: str, n: int) -> None:
                done[collection] = done.get(collection, 0) + n
                status.update(f"Re-embedding {collection}: {done[collection]:,}")

            report = components.reembed(advance)
    except EmbeddingModelError as exc:
        raise fail(str(exc)) from exc
    err.print(f"re-embedded {report.tickets:,} tickets and {report.chunks:,} KB chunks with {report.model_id}",
              highlight=False)  # fmt: skip
    if report.tickets_without_history:
        err.print(f"{report.tickets_without_history:,} tickets were not in the history: embedded from stored text")
    if not retrain:
        err.print("[yellow]not retrained:[/yellow] run `caseworker train --promote always` before triaging")
        return
    with err.status("Training..."):
        try:
            reports = components.train(promote="always")
        except ModelNotTrainedError as exc:
            err.print(f"no model retrained: {exc}", highlight=False)
            return
    for tenant_report in reports:
        err.print(f"tenant {tenant_report.tenant}: model {tenant_report.version} trained and promoted", highlight=False)

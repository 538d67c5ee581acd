"""`caseworker train --tune-encoder`: the encoder tuned on the team's history, then the classifier on it.

Called by `train_command` (caseworker/cli_models.py) when --tune-encoder is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from caseworker.cli_common import err, fail

if TYPE_CHECKING:
    from config.components import Components


def tune_then_train(
    components: Components, tenant: str | None, time_budget: float, objective: str, quantize: str
) -> Components:
    """Tune within `time_budget` seconds, move the data dir onto the tuned encoder, and return its components
    (the caller trains the classifier with them and prints the reports). Exits 2 when tuning is impossible."""
    from knowledge.embeddings import EmbeddingModelError
    from knowledge.encoder_tuning import TuneOptions, TuningUnavailableError, require_tuning_packages

    try:
        require_tuning_packages()
    except TuningUnavailableError as exc:
        raise fail(escape(str(exc))) from exc
    from config.tuning import TuningRefusedError, tune_data_dir

    options = TuneOptions(time_budget_s=time_budget, objective=objective, quantize=quantize,  # type: ignore[arg-type]
                          threads=components.settings.embedding_threads)  # fmt: skip
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[message]}"),
               TimeElapsedColumn())  # fmt: skip
    try:
        with Progress(*columns, console=err) as bar:
            tuning = bar.add_task("Tuning the encoder", total=time_budget, message="loading")
            done: dict[str, int] = {}

            def advance(spent: float, budget: float, message: str) -> None:
                bar.update(tuning, completed=min(spent, budget), message=message)

            def reembedded(collection: str, n: int) -> None:
                if not done:
                    bar.update(tuning, completed=time_budget)
                    done["task"] = bar.add_task("Re-embedding", total=None, message="")
                done[collection] = done.get(collection, 0) + n
                bar.update(done["task"], message=f"{collection}: {done[collection]:,}")

            tuned = tune_data_dir(components, tenant, options, advance, reembedded)
    except (TuningRefusedError, EmbeddingModelError, ValueError) as exc:
        raise fail(escape(str(exc))) from exc
    r = tuned.result
    int8 = f"int8 (cosine to fp32 {r.int8_cosine:.4f})" if r.quantized else f"fp32 (int8 cosine {r.int8_cosine})"
    err.print(
        f"tenant {tuned.tenant}: encoder {tuned.model_id} tuned on {r.n_texts:,} tickets ({', '.join(r.fields)}; "
        f"{r.objective}, {r.steps} steps, {r.epochs:.2f} epochs, stopped by {r.stopped_by}) "
        f"in {r.total_seconds:.0f} s, "
        f"{int8}; re-embedded {tuned.reembedded.tickets:,} tickets and {tuned.reembedded.chunks:,} KB chunks",
        highlight=False,
    )
    err.print(
        "[yellow]serve it:[/yellow] run every process on this data dir (serve, worker, triage) with "
        "CASEWORKER_EMBEDDER=tuned; `caseworker reembed --embedder minilm` goes back to the stock encoder",
        highlight=False,
    )
    return tuned.components

"""`caseworker`: ingest history and a knowledge base, train the local model, triage tickets."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from caseworker.cli_agents import agents_app
from caseworker.cli_common import (
    EXIT_REJECTS,
    DataDir,
    LabelValues,
    LabelValuesFile,
    Mode,
    Tenant,
    components_for,
    err,
    fail,
    progress_bar,
    settings_for,
)
from caseworker.cli_db import db_app
from caseworker.cli_eval import eval_command
from caseworker.cli_finetune import finetune_app
from caseworker.cli_insights import insights_app
from caseworker.cli_models import drift_command, models_app, stats_command, train_command
from caseworker.cli_reembed import reembed_command
from caseworker.cli_service import jobs_app, serve_command, worker_command
from caseworker.terminal import markup_safe

if TYPE_CHECKING:
    from knowledge.importers import ImportReport
    from knowledge.kb_importer import KBImport

app = typer.Typer(
    help="Caseworker: agentic triage for support and IT helpdesks. Works offline by default.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ingest_app = typer.Typer(help="Load resolved history, knowledge-base articles or a taxonomy into the data dir.")
app.add_typer(ingest_app, name="ingest")
app.add_typer(finetune_app, name="finetune")
app.command("eval")(eval_command)
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.add_typer(jobs_app, name="jobs")
app.command("train")(train_command)
app.command("reembed")(reembed_command)
app.add_typer(models_app, name="models")
app.command("stats")(stats_command)
app.command("drift")(drift_command)
app.add_typer(db_app, name="db")
app.add_typer(agents_app, name="agents")
app.add_typer(insights_app, name="insights")
llm_app = typer.Typer(help=r"Run a local OpenAI-compatible LLM server (needs the extra: pip install caseworker\[llm]).")
app.add_typer(llm_app, name="llm")


@ingest_app.command("tickets")
def ingest_tickets(
    file: Annotated[Path, typer.Argument(help="CSV, JSONL or JSON file of tickets (resolved history).")],
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="TARGET=COLUMN[,COLUMN]: e.g. --map text=subject,body --map queue=queue --map reply=answer. "
            "Targets: id, subject, body, text, reply, tenant, created_at, channel, language, tags, "
            "customer_id/name/tier/mrr, resolved_at; any other target is a label.",
        ),
    ] = None,
    values: LabelValues = None,
    values_file: LabelValuesFile = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Where rejected rows go (default: FILE.rejects.txt beside the input).")
    ] = None,
    tenant: Tenant = None,
    data_dir: DataDir = None,
) -> None:
    """Import tickets; re-importing updates changed tickets and never duplicates. Exits 1 if rows were rejected."""
    from knowledge.importers import ImportFileError, MappingError, parse_mapping, read_tickets
    from knowledge.label_values import ValueMapError, load_value_map

    try:
        value_map = load_value_map(values or [], values_file)
        column_map = parse_mapping(mapping) if mapping else None
        report = read_tickets(file, column_map, tenant=tenant or "default", values=value_map)
    except (MappingError, ImportFileError, ValueMapError) as exc:
        raise fail(str(exc)) from exc
    workspace = components_for(data_dir)
    with progress_bar("Embedding tickets", len(report.tickets)) as bar:
        counts = workspace.ingest.tickets(report.tickets, progress=lambda n: bar.advance(bar.task_ids[0], n))
    err.print(
        f"{report.rows_read} rows read: {counts.inserted} new, {counts.updated} updated, "
        f"{counts.unchanged} unchanged, {len(report.rejects)} rejected"
    )
    _report_rejects(report, rejects or file.with_name(file.name + ".rejects.txt"))


def _report_rejects(report: ImportReport | KBImport, path: Path) -> None:
    written = report.write_rejects(path)
    if written is None:
        return
    # The same lines `caseworker eval` fails with when a field lost every value, so the fix reads the same.
    for line in report.problem_lines():
        err.print(f"  [yellow]{markup_safe(line, 500)}[/yellow]", highlight=False)
    err.print(f"rejected rows written to {written}")
    raise typer.Exit(EXIT_REJECTS)


@ingest_app.command("kb")
def ingest_kb(
    directory: Annotated[Path, typer.Argument(help="Folder of Markdown articles (front matter optional).")],
    rejects: Annotated[
        Path | None, typer.Option(help="Where rejected files are listed (default: DIR.rejects.txt beside the folder).")
    ] = None,
    tenant: Tenant = None,
    data_dir: DataDir = None,
) -> None:
    """Chunk and index knowledge-base articles. Re-ingesting an article replaces its chunks."""
    from knowledge.kb_importer import read_kb

    if not directory.is_dir():
        raise fail(f"{directory}: not a directory")
    kb = read_kb(directory, tenant=tenant or "default")
    workspace = components_for(data_dir)
    with progress_bar("Embedding KB chunks", 0) as bar:
        task = bar.task_ids[0]
        counts = workspace.ingest.kb(
            kb.articles,
            progress=lambda n: bar.advance(task, n),
            on_total=lambda total: bar.update(task, total=total),
        )
    err.print(f"{counts.articles} articles indexed as {counts.chunks} chunks, {len(kb.rejects)} rejected")
    _report_rejects(kb, rejects or directory.parent / f"{directory.name}.rejects.txt")


@ingest_app.command("taxonomy")
def ingest_taxonomy(
    file: Annotated[Path, typer.Argument(help="TOML with [categories.<name>] and [queues.<name>] tables.")],
    data_dir: DataDir = None,
) -> None:
    """Install the taxonomy: category descriptions and which categories may be auto-resolved."""
    from knowledge.taxonomy import TaxonomyError

    try:
        taxonomy = components_for(data_dir).install_taxonomy(file)
    except TaxonomyError as exc:
        raise fail(str(exc)) from exc
    err.print(
        f"{len(taxonomy.categories)} categories ({len(taxonomy.auto_resolvable)} auto-resolvable), "
        f"{len(taxonomy.queues)} queues"
    )


@app.command()
def triage(
    source: Annotated[str, typer.Argument(help="A JSON or JSONL file of tickets, or - for stdin.")],
    out: Annotated[Path | None, typer.Option(help="Write results here instead of stdout.")] = None,
    mode: Annotated[
        Mode | None,
        typer.Option(help="local (offline), llm (the LLM classifies and writes) or cascade. Env: CASEWORKER_MODE."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Tickets triaged at once (helps in LLM modes).")] = 1,
    batch_size: Annotated[
        int,
        typer.Option(
            min=1, max=512, help="Tickets embedded, searched and scored together (1: one at a time; same results)."
        ),
    ] = 256,
    data_dir: DataDir = None,
) -> None:
    """Triage tickets; prints one TriageResult JSON per line, in input order.

    Exits 1 if any ticket was invalid; the valid ones are still triaged and stored."""
    from caseworker.batch import triage_all
    from caseworker.ticket_input import parse_tickets
    from config.components import LLMConfigError

    if source == "-":
        text, name = sys.stdin.read(), "<stdin>"
    else:
        path = Path(source)
        if not path.is_file():
            raise fail(f"{source}: no such file")
        text, name = path.read_text(encoding="utf-8-sig"), source
    parsed = parse_tickets(text, name)
    for message in parsed.errors:
        err.print(f"[yellow]{markup_safe(message, 500)}[/yellow]", highlight=False)
    workspace = components_for(data_dir, mode=mode.value if mode else None)
    try:
        context = workspace.context()
    except LLMConfigError as exc:
        raise fail(str(exc)) from exc
    if context.local_model(workspace.settings.tenant) is None:
        err.print(
            f"[yellow]warning:[/yellow] no local model for tenant {workspace.settings.tenant!r}: "
            "run `caseworker train`; results need review"
        )
    sink = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        with progress_bar("Triaging", len(parsed.tickets)) as bar:
            summary = triage_all(
                parsed.tickets,
                context,
                workers=workers,
                batch_size=batch_size,
                emit=lambda result: (sink.write(result.model_dump_json() + "\n"), sink.flush()),
                progress=lambda: bar.advance(bar.task_ids[0]),
            )
    finally:
        if out:
            sink.close()
    err.print(summary.describe(), highlight=False)
    if parsed.errors:
        raise typer.Exit(EXIT_REJECTS)


@app.command()
def schema() -> None:
    """Print the JSON Schema of TriageResult (the output contract)."""
    from agent.schemas import TriageResult

    typer.echo(json.dumps(TriageResult.model_json_schema(), indent=2))


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Fresh data dir for the demo (emptied first).")] = Path(
        ".caseworker-demo"
    ),
) -> None:
    """Ingest the bundled sample company, train, triage unseen tickets and print a summary."""
    from caseworker.demo import run_demo

    run_demo(settings_for(data_dir), err)


@llm_app.command("serve")
def llm_serve(
    model: Annotated[Path, typer.Option("--model", help="A GGUF model file.")],
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for inference.")] = 2,
    context: Annotated[int, typer.Option(min=512, help="Context tokens per request.")] = 4096,
    parallel: Annotated[int, typer.Option(min=1, help="Requests served at once.")] = 1,
) -> None:
    """Serve a GGUF model on 127.0.0.1 with an OpenAI-compatible API, until Ctrl-C."""
    from caseworker.llm_server import LocalServerError, serve_forever

    try:
        serve_forever(model, host="127.0.0.1", port=port, threads=threads, context=context, parallel=parallel)
    except LocalServerError as exc:
        raise fail(str(exc)) from exc


def main() -> None:
    """The console script: `app`, with a data dir built for another embedder reported as a usage error."""
    from knowledge.store import StoreMismatchError

    try:
        app()
    except StoreMismatchError as exc:
        err.print(f"[red]error:[/red] {markup_safe(str(exc))}", highlight=False)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()

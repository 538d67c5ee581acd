"""`caseworker finetune build | validate | submit`: training data from resolved history.

Registered by cli.py with `app.add_typer(finetune_app, name="finetune")`. Heavy modules (embeddings,
Chroma, the openai SDK) are imported inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from caseworker.terminal import markup_safe

if TYPE_CHECKING:
    from config.settings import Settings
    from finetune.examples import EvidenceFn
    from finetune.schemas import Manifest, ReviewOutcome, SourceInfo
    from finetune.validate import ValidationReport
    from knowledge.schemas import Ticket

finetune_app = typer.Typer(
    help="Fine-tuning datasets from resolved history: build scrubbed train/val JSONL, validate, submit.",
    no_args_is_help=True,
)
err = Console(stderr=True, soft_wrap=True)  # messages name files and lines: never wrap them
EXIT_ERRORS = 1
EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _settings(data_dir: Path | None) -> Settings:
    # Imported here, not at module level: cli.py imports this module while it is itself loading.
    from caseworker.cli import settings_for

    return settings_for(data_dir)


class _RichProgress:
    """The build's Progress protocol on a Rich progress display: one bar per step."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._total = 0

    def start(self, description: str, total: int) -> None:
        if self._task is not None:  # a step that reported in batches still ends at 100 %
            self._progress.update(self._task, completed=self._total)
        self._task, self._total = self._progress.add_task(description, total=total), total

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)


@contextmanager
def _progress() -> Iterator[_RichProgress]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        yield _RichProgress(progress)


def _option_errors(exc: ValidationError) -> str:
    return "; ".join(f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}" for e in exc.errors())


@finetune_app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", help="Folder for train.jsonl, val.jsonl, index.jsonl, manifest.json.")],
    task: Annotated[
        Literal["classify", "reply", "both"], typer.Option(help="Classification examples, reply examples, or both.")
    ] = "both",
    source: Annotated[
        Path | None,
        typer.Option("--from", help="Read tickets from this CSV/JSONL/JSON file instead of the data dir's history."),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="With --from: TARGET=COLUMN[,COLUMN], as for `caseworker ingest tickets`."),
    ] = None,
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant (history), or the tenant for --from rows.")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data dir: history source, and the KB for reply evidence.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the split and shuffling; same seed, same files.")] = 13,
    val_fraction: Annotated[float, typer.Option(help="Share of tickets in val.jsonl.")] = 0.1,
    split: Annotated[
        Literal["stratified", "time"], typer.Option(help="Stratify by label, or validate on the latest tickets.")
    ] = "stratified",
    stratify: Annotated[str | None, typer.Option(help="Label to stratify by (default: queue, else category).")] = None,
    dedupe_threshold: Annotated[float, typer.Option(help="Cosine similarity that makes a near-duplicate.")] = 0.95,
    leak_threshold: Annotated[
        float, typer.Option(help="Cosine similarity from which tickets stay on the same split side.")
    ] = 0.9,
    max_tokens: Annotated[int, typer.Option(help="Token limit per example (the target model's).")] = 16_384,
    overlong: Annotated[
        Literal["trim", "drop"], typer.Option(help="Over the limit: trim evidence, then the ticket; or drop.")
    ] = "trim",
    min_tokens: Annotated[int, typer.Option(help="Skip tickets whose cleaned text has fewer tokens.")] = 5,
    k_kb: Annotated[int, typer.Option(help="KB excerpts per reply example (as the graph retrieves).")] = 3,
    pii_pattern: Annotated[
        list[str] | None,
        typer.Option(
            "--pii-pattern",
            help="Extra PII as NAME=REGEX, replaced by <NAME_n>; a group (?P<pii>…) limits it to that group.",
        ),
    ] = None,
    thread_field: Annotated[str, typer.Option(help="Label or extra field holding a thread/conversation id.")] = (
        "thread_id"
    ),
    target_model: Annotated[str, typer.Option(help="Model the cost estimate prices.")] = "gpt-4o-mini-2024-07-18",
    epochs: Annotated[int, typer.Option(help="Epochs for the training-token and cost estimate.")] = 3,
    price_table: Annotated[
        Path | None, typer.Option(help='JSON {"model": USD per 1M training tokens} replacing the built-in prices.')
    ] = None,
) -> None:
    """Build scrubbed, deduplicated, leak-free train/val chat JSONL and a manifest from resolved tickets."""
    from finetune.build import BuildError, BuildUsageError, build_dataset
    from finetune.manifest import PriceTableError
    from finetune.pii import PiiPattern
    from finetune.schemas import BuildOptions

    try:
        options = BuildOptions(
            task=task, seed=seed, val_fraction=val_fraction, split=split, stratify_field=stratify,
            dedupe_threshold=dedupe_threshold, leak_threshold=leak_threshold, max_tokens=max_tokens,
            overlong=overlong, min_tokens=min_tokens, k_kb=k_kb, pii_patterns=list(pii_pattern or []),
            thread_field=thread_field, target_model=target_model, epochs=epochs,
        )  # fmt: skip
        for spec in options.pii_patterns:
            PiiPattern.parse(spec)
    except ValidationError as exc:
        raise _fail(_option_errors(exc)) from exc
    except ValueError as exc:
        raise _fail(f"--pii-pattern: {exc}") from exc
    if mapping and source is None:
        raise _fail("--map only applies with --from FILE")
    if out.exists() and not out.is_dir():
        raise _fail(f"{out}: exists and is not a directory")

    settings = _settings(data_dir)
    # Who resolved a ticket teaches routing (its profiles), never the classifier model.
    options = options.model_copy(update={"exclude_fields": (settings.routing_person_label,)})
    tickets, info, reviews = _load_tickets(source, mapping or [], tenant, settings, out)
    evidence = _kb_evidence(settings, options.tasks, options.k_kb)
    from knowledge.embeddings import local_embedder

    try:
        with _progress() as progress:
            manifest = build_dataset(
                tickets, options, local_embedder(settings.embedding_threads), out,
                source=info, reviews=reviews, evidence=evidence, price_table=price_table, progress=progress,
            )  # fmt: skip
    except PriceTableError as exc:
        raise _fail(f"--price-table: {exc}") from exc
    except BuildUsageError as exc:
        raise _fail(str(exc)) from exc
    except BuildError as exc:
        raise _fail(str(exc), EXIT_ERRORS) from exc
    _print_build(manifest, out)


def _load_tickets(
    source: Path | None, specs: list[str], tenant: str | None, settings: Settings, out: Path
) -> tuple[list[Ticket], SourceInfo, dict[tuple[str, str], ReviewOutcome]]:
    from finetune.examples import load_reviews
    from finetune.manifest import sha256_file
    from finetune.schemas import SourceInfo
    from knowledge.importers import ImportFileError, MappingError, parse_mapping, read_tickets

    if source is not None:
        try:
            report = read_tickets(source, parse_mapping(specs) if specs else None, tenant=tenant or "default")
        except (MappingError, ImportFileError) as exc:
            raise _fail(str(exc)) from exc
        if report.rejects:
            written = report.write_rejects(out / "rejects.txt")
            err.print(f"[yellow]{len(report.rejects)} row(s) rejected by the importer[/yellow], listed in {written}:")
            for reject in report.rejects[:5]:
                err.print(f"  [yellow]{markup_safe(str(reject), 500)}[/yellow]", highlight=False)
        info = SourceInfo(kind="file", path=str(source), sha256=sha256_file(source), mapping=specs, tenant=tenant,
                          rows_read=report.rows_read, import_rejects=len(report.rejects))  # fmt: skip
        return report.tickets, info, {}
    if settings.database_url is None and not settings.history_path.is_file():
        raise _fail(
            f"no history at {settings.history_path}: run `caseworker ingest tickets` first, or pass --from FILE"
        )
    from knowledge.history import History

    history = History(settings.history_path, settings.database_url)
    try:
        tickets = list(history.all_tickets(tenant=tenant))
        reviews = load_reviews(history)
    finally:
        history.close()
    where = "postgres" if settings.database_url else str(settings.history_path)
    info = SourceInfo(kind="history", path=where, tenant=tenant, rows_read=len(tickets))
    return tickets, info, reviews


def _kb_evidence(settings: Settings, tasks: tuple[str, ...], k: int) -> EvidenceFn | None:
    """The graph's own KB retrieval, when the data dir has a KB; otherwise reply examples carry none."""
    where = settings.chroma_url or str(settings.chroma_dir)
    if "reply" not in tasks or k <= 0 or (settings.chroma_url is None and not settings.chroma_dir.is_dir()):
        if "reply" in tasks and k > 0:
            err.print(f"no KB under {where}: reply examples carry no KB excerpts")
        return None
    from config.components import Components
    from knowledge.store import KB_CHUNKS
    from tools.retrieval import Retriever

    workspace = Components(settings)
    chunks = workspace.store.counts()[KB_CHUNKS]
    if chunks == 0:
        err.print(f"the KB under {where} is empty: reply examples carry no KB excerpts")
        return None
    err.print(f"KB evidence from {where} ({chunks} chunks, top {k} articles per ticket)")
    return Retriever(workspace.store, workspace.embedder).best_chunk_per_article


def _print_build(manifest: Manifest, out: Path) -> None:
    skipped = ", ".join(f"{reason} {n}" for reason, n in manifest.filtered.items() if n) or "none"
    err.print(f"{manifest.tickets_in} tickets in, {manifest.tickets_kept} kept; skipped: {skipped}")
    for task, reasons in manifest.task_filtered.items():
        if reasons:
            err.print(f"  {task}: not made: " + ", ".join(f"{r} {n}" for r, n in reasons.items()))
    table = Table(title="Examples")
    for column in ("task", "train", "val", "train tokens", "p95 tokens", "trimmed"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for task, counts in manifest.examples.items():
        stats = manifest.tokens[task]["train"]
        table.add_row(task, str(counts.train), str(counts.val), f"{stats.total:,}", str(stats.p95),
                      str(manifest.trimmed.get(task, 0)))  # fmt: skip
    err.print(table)
    pii = ", ".join(f"{kind} {n}" for kind, n in manifest.pii_placeholders.items()) or "none found"
    err.print(f"PII placeholders written: {pii}")
    cost = manifest.cost
    price = f"≈ ${cost.estimated_cost_usd:,.2f}" if cost.estimated_cost_usd is not None else "(no price known)"
    err.print(
        f"training: {cost.estimated_training_tokens:,} tokens for {cost.epochs} epochs of {cost.target_model} {price}"
    )
    err.print(f"wrote {out / 'train.jsonl'}, {out / 'val.jsonl'}, {out / 'index.jsonl'}, {out / 'manifest.json'}")


@finetune_app.command("validate")
def validate(
    files: Annotated[list[Path], typer.Argument(help="Chat-format JSONL files (train.jsonl, val.jsonl, ...).")],
    max_tokens: Annotated[int, typer.Option(help="Token limit per example.")] = 16_385,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON on stdout.")] = False,
) -> None:
    """Check files against the OpenAI cookbook's format rules; exits 1 when any error is found."""
    from finetune.validate import validate_file

    reports = []
    for path in files:
        if not path.is_file():
            raise _fail(f"{path}: no such file")
        try:
            reports.append(validate_file(path, max_tokens=max_tokens))
        except OSError as exc:
            raise _fail(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in reports], indent=2))
    for report in reports:
        _print_report(report)
    if any(not r.ok for r in reports):
        raise typer.Exit(EXIT_ERRORS)


def _print_report(report: ValidationReport) -> None:
    from finetune.validate import ERROR_TYPES, WARNING_TYPES

    status = "[green]no errors[/green]" if report.ok else f"[red]{report.error_count} error(s)[/red]"
    err.print(f"{report.file}: {report.examples} examples, {status}; tokens p50 {report.tokens.p50}, "
              f"max {report.tokens.max} (limit {report.max_tokens})")  # fmt: skip
    for title, findings, meanings in (
        ("error", report.errors, ERROR_TYPES),
        ("warning", report.warnings, WARNING_TYPES),
    ):
        for kind, finding in findings.items():
            lines = ", ".join(str(n) for n in finding.lines[:10]) + (" …" if finding.count > 10 else "")
            where = f" (lines {lines})" if any(finding.lines) else ""
            err.print(f"  {title} {kind}: {finding.count}{where}: {meanings[kind]}", highlight=False)


@finetune_app.command("submit")
def submit(
    path: Annotated[Path, typer.Argument(help="A build folder (train.jsonl + val.jsonl), or a training JSONL.")],
    val: Annotated[Path | None, typer.Option("--val", help="Validation JSONL (default: val.jsonl beside).")] = None,
    model: Annotated[
        str | None, typer.Option(help="Base model (default: the build's target model, else CASEWORKER_MODEL).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs (default: the build's).")] = None,
    suffix: Annotated[str | None, typer.Option(help="Suffix for the fine-tuned model's name.")] = None,
    seed: Annotated[int | None, typer.Option(help="Training seed (default: the build's).")] = None,
) -> None:
    """Validate, upload and start a fine-tuning job on the configured OpenAI-compatible endpoint."""
    from finetune.schemas import Manifest
    from finetune.submit import MissingKeyError, SubmitError, submit_job
    from finetune.validate import validate_file

    folder = path if path.is_dir() else path.parent
    train = folder / "train.jsonl" if path.is_dir() else path
    val = val or (folder / "val.jsonl" if (folder / "val.jsonl").is_file() and train.name == "train.jsonl" else None)
    manifest: Manifest | None = None
    if (folder / "manifest.json").is_file():
        try:
            manifest = Manifest.model_validate_json((folder / "manifest.json").read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise _fail(f"{folder / 'manifest.json'}: not a finetune manifest: {exc.errors()[0]['msg']}") from exc
    for file in (train, val):
        if file is not None and not file.is_file():
            raise _fail(f"{file}: no such file")
    limit = manifest.options.max_tokens if manifest else 16_385
    for file in (f for f in (train, val) if f is not None):
        report = validate_file(file, max_tokens=limit)
        if not report.ok:
            _print_report(report)
            raise _fail(f"{file} has format errors: fix them before submitting", EXIT_ERRORS)
    settings = _settings(None)
    chosen = model or (manifest.options.target_model if manifest else None) or settings.model
    if not chosen:
        raise _fail("no base model: pass --model or set CASEWORKER_MODEL")
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    try:
        with err.status(f"Uploading and creating a job for {chosen}..."):
            result = submit_job(
                train, val, api_key=key, base_url=settings.openai_base_url, model=chosen,
                epochs=epochs or (manifest.options.epochs if manifest else None), suffix=suffix,
                seed=seed if seed is not None else (manifest.options.seed if manifest else None),
            )  # fmt: skip
    except MissingKeyError as exc:
        raise _fail(str(exc)) from exc
    except SubmitError as exc:
        raise _fail(str(exc), EXIT_ERRORS) from exc
    err.print(f"job {result.job_id} ({result.status}) for {result.model} at {result.base_url}")
    typer.echo(result.model_dump_json())

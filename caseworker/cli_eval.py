"""`caseworker eval`: score the triage worker on labelled tickets, against baselines, with CI bars.

Registered by caseworker.cli as `app.command("eval")(eval_command)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from evals.report import BarResult, Change, EvalReport

err = Console(stderr=True, soft_wrap=True)
# Reports are read in CI logs too: a non-terminal gets a wide page instead of 80 squeezed columns.
out = Console(soft_wrap=True, width=None if Console().is_terminal else 160)
EXIT_BAR_MISSED = 1
EXIT_USAGE = 2


class RichHooks:
    """Runner hooks drawn as Rich progress bars; a new stage completes the previous one."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self._current: Any = None

    def stage(self, description: str, total: int | None) -> Callable[[int], None]:
        if self._current is not None:
            task = self.progress.tasks[-1]
            done = task.total if task.total is not None else max(task.completed, 1)
            self.progress.update(self._current, total=done, completed=done)
        self._current = self.progress.add_task(description, total=total)
        task_id = self._current
        return lambda n: self.progress.advance(task_id, n)

    def message(self, text: str) -> None:
        self.progress.console.print(text, highlight=False)


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def _settings_overrides(specs: list[str], mode: str | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key.strip():
            raise _fail(f"--set {spec!r} must look like NAME=VALUE (e.g. novelty_similarity=0.5)")
        overrides[key.strip()] = value.strip()
    if mode is not None:
        overrides["mode"] = mode
    return overrides


_MAX_SLICE_LINES = 12


def _summary(report: EvalReport) -> None:
    from evals.baselines import PRIMARY_BASELINE

    table = Table(title=f"{report.name}: {report.n} test tickets", title_justify="left")
    for column in ("field", "accuracy % [95 % CI]", "macro-F1", "weighted-F1", "ECE", "invalid"):
        table.add_column(column, justify="left" if column == "field" else "right")
    for b in report.baselines:
        table.add_column(f"{b} acc / macro-F1", justify="right")
    for name, f in report.fields.items():
        lo, hi = f.accuracy_ci95
        row = [
            name,
            f"{f.accuracy * 100:.2f} [{lo * 100:.1f}–{hi * 100:.1f}]",
            f"{f.macro_f1:.4f}",
            f"{f.weighted_f1:.4f}",
            f"{f.ece:.4f}",
            str(f.invalid),
        ]
        for b in report.baselines:
            s = report.baselines[b].get(name)
            row.append(f"{s.accuracy * 100:.2f} / {s.macro_f1:.4f}" if s else "–")
        table.add_row(*row)
        for column, sl in f.slices.items():
            theirs = " · ".join(
                f"{b} {report.baselines[b][name].slices.get(column, 0):.4f}"
                for b in report.baselines
                if name in report.baselines[b]
            )
            out.print(f"  {name}: mean macro-F1 over {column} = {sl.mean_macro_f1:.4f} ({theirs})", highlight=False)
            # Value by value beside the peer (a gap between languages is ours only where the peer lacks it); a
            # column of many values (customers, repositories by the dozen) stays a mean.
            peer = report.baselines.get(PRIMARY_BASELINE, {}).get(name)
            for value, v in sl.values.items() if len(sl.values) <= _MAX_SLICE_LINES else ():
                their_value = peer.slice_values.get(column, {}).get(value) if peer is not None else None
                versus = "" if their_value is None else f" ({PRIMARY_BASELINE} {their_value:.4f})"
                out.print(
                    f"    {column}={value or '(empty)'}: n {v.n}, macro-F1 {v.macro_f1:.4f}{versus}", highlight=False
                )
    out.print(table)
    for name, f in report.fields.items():
        if "macro_f1" in f.baseline_delta:
            d = f.baseline_delta["macro_f1"]
            out.print(
                f"{name}: macro-F1 minus {report.baseline} {d.delta:+.4f} (95 % paired bootstrap {d.low:+.4f} to "
                f"{d.high:+.4f})",
                highlight=False,
            )
    _ranking_summary(report)
    if report.oos is not None:
        o = report.oos
        out.print(
            f"out-of-scope: recall {o.recall:.1%}, precision {o.precision:.1%}, in-scope flagged "
            f"{o.false_positive_rate:.1%}; strict in-scope accuracy "
            + ", ".join(f"{k} {v:.2%}" for k, v in o.strict_accuracy.items()),
            highlight=False,
        )
    mix = ", ".join(f"{a} {s:.1%}" for a, s in report.decisions.share.items())
    out.print(
        f"decisions: {mix}; latency p50 {report.latency_ms['p50']:.1f} ms, p95 {report.latency_ms['p95']:.1f} ms; "
        "wall " + ", ".join(f"{k} {v:.1f}s" for k, v in report.timings_s.items()),
        highlight=False,
    )


def _ranking_summary(report: EvalReport) -> None:
    from evals.ranking import RANKING_HEADER, ranking_rows

    for name, r in report.ranking.items():
        table = Table(
            title=f"{name}: {r.n} test rows, {r.unseen} resolvers never seen in training", title_justify="left"
        )
        for column in RANKING_HEADER:
            table.add_column(column, justify="left" if column == "model" else "right")
        for row in ranking_rows(r):
            table.add_row(*row)
        out.print(table)


def _print_changes(changes: list[Change], old: Path) -> None:
    moved = [c for c in changes if c.better is not None]
    if not moved:
        out.print(f"compared with {old}: no headline metric changed")
        return
    table = Table(title=f"compared with {old}", title_justify="left")
    for column in ("metric", "old", "new", "Δ", ""):
        table.add_column(column, justify="left" if column in ("metric", "") else "right")
    for c in moved:
        verdict = "[green]better[/green]" if c.better else "[red]worse[/red]"
        table.add_row(c.key, f"{c.old:.4f}", f"{c.new:.4f}", f"{c.delta:+.4f}", verdict)
    out.print(table)


def _print_bars(bars: list[BarResult]) -> None:
    for b in bars:
        sign = "≥" if b.kind == "min" else "≤"
        value = "missing from the report" if b.value is None else f"{b.value:.4f}"
        verdict = "[green]pass[/green]" if b.passed else "[red]FAIL[/red]"
        out.print(f"bar {b.key} {sign} {b.bar}: {value} {verdict}")


def eval_command(
    suite: Annotated[
        Path | None, typer.Argument(help="A suite TOML (see evals/suites/); or give --train/--test/--map.")
    ] = None,
    train: Annotated[
        Path | None, typer.Option(help="Training set (CSV, JSONL, JSON, or CLINC-style JSON of splits).")
    ] = None,
    test: Annotated[Path | None, typer.Option(help="Test set; omitted: a stratified 20 % of --train.")] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="TARGET=COLUMN as for `ingest tickets`; every label target is scored."),
    ] = None,
    values: Annotated[
        list[str] | None,
        typer.Option(
            "--values",
            help="FIELD=RAW:NORM[,RAW:NORM] as for `ingest tickets`, e.g. --values priority=1:P0,2:P1,3:P2,4:P3.",
        ),
    ] = None,
    values_file: Annotated[
        Path | None, typer.Option("--values-file", help="TOML or JSON of the same, one table per field.")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where report.json/.md/.html go.")] = Path("eval-report"),
    mode: Annotated[str | None, typer.Option(help="Triage mode (only 'local' today).")] = None,
    minimum: Annotated[
        list[str] | None, typer.Option("--min", help="LABEL.metric=X: exit 1 when the report's value is below X.")
    ] = None,
    maximum: Annotated[
        list[str] | None, typer.Option("--max", help="KEY=X: exit 1 when above X (e.g. label.ece=0.05).")
    ] = None,
    compare: Annotated[Path | None, typer.Option(help="An older report.json: print what got better or worse.")] = None,
    slices: Annotated[
        list[str] | None, typer.Option("--slice", help="Score separately for each value of this column.")
    ] = None,
    setting: Annotated[
        list[str] | None, typer.Option("--set", help="Settings override NAME=VALUE (e.g. novelty_similarity=0.5).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Triage threads (default 3).")] = None,
    per_class: Annotated[int | None, typer.Option(help="Subsample training to N rows per class.")] = None,
    limit_test: Annotated[int | None, typer.Option(help="Score a random N test rows only.")] = None,
    label: Annotated[str, typer.Option(help="Label name for CLINC-style JSON.")] = "intent",
    oos_train: Annotated[
        bool, typer.Option(help="CLINC-style JSON: train on oos_train as an out-of-scope class too.")
    ] = False,
    kb: Annotated[Path | None, typer.Option(help="KB folder to ingest into the eval store.")] = None,
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy TOML for the eval store.")] = None,
    target_accuracy: Annotated[
        float | None, typer.Option(help="Report the confidence threshold reaching this accuracy.")
    ] = None,
    baselines: Annotated[bool | None, typer.Option(help="Train the majority and TF-IDF+LR baselines.")] = None,
    embedding_cache: Annotated[
        Path | None, typer.Option(help="Reuse embeddings cached here (keyed by text) across runs.")
    ] = None,
    tune_encoder: Annotated[
        float | None,
        typer.Option(
            help="Tune the encoder on the training split for this many seconds first (caseworker[tune]).", min=5
        ),
    ] = None,
    tune_option: Annotated[
        list[str] | None,
        typer.Option("--tune-option", help="With --tune-encoder: NAME=VALUE, e.g. objective=pairs, quantize=never."),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Without --test: 'stratified' (default) or 'time' (hold out the newest).")
    ] = None,
    test_share: Annotated[
        float | None, typer.Option(min=0.01, max=0.99, help="Without --test: the share held out (default 0.2).")
    ] = None,
    person: Annotated[
        list[str] | None,
        typer.Option("--person", help="A label naming who resolved the ticket: scored as routing top-k and MRR."),
    ] = None,
    exclude_self_assigned: Annotated[
        bool | None, typer.Option(help="Score person labels only on tickets not assigned to their own requester.")
    ] = None,
    refresh_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Time split: rebuild routing profiles and refit the ranking baselines every N days of the test "
            "period from what was resolved by then (a scheduled retrain); 0 = frozen at the cut.",
        ),
    ] = None,
) -> None:
    """Evaluate triage on labelled tickets: an isolated store is built from --train, --test is triaged
    through the real graph, and report.json/.md/.html are written to --out. Exits 1 when a bar is missed."""
    from evals.datasets import DatasetError, DatasetSpec
    from evals.report import build_report, check_bars, parse_bars
    from evals.report import compare as compare_reports
    from evals.report_files import write_reports
    from evals.runner import RunConfig, run_eval
    from evals.suites import DATA_ROOT_ENV, SuiteError, load_suite
    from knowledge.importers import ImportFileError, MappingError
    from knowledge.label_values import ValueMapError, load_value_map, merge_value_maps

    overrides = _settings_overrides(setting or [], mode)
    try:
        min_bars, max_bars = parse_bars(minimum or []), parse_bars(maximum or [])
        # Parsed here, before any work, so a bad --values fails in a second like `ingest tickets` does.
        value_map = load_value_map(values or [], values_file)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    options: dict[str, Any] = {
        "workers": workers,
        "target_accuracy": target_accuracy,
        "baselines": baselines,
        "embedding_cache": embedding_cache,
        "tune_encoder_s": tune_encoder,
        "tune_options": dict(_settings_overrides(tune_option or [], None)),
        "kb": kb,
        "taxonomy": taxonomy,
    }
    try:
        if suite is not None:
            if train or test or mapping:
                raise _fail("give either a suite file or --train/--test/--map, not both")
            loaded = load_suite(suite)
            missing = loaded.missing_data()
            if missing:
                raise _fail(
                    f"dataset file(s) not found: {', '.join(map(str, missing))} "
                    f"(data root {loaded.root()}; set {DATA_ROOT_ENV} to point elsewhere)"
                )
            config = loaded.run_config(**options)
            config.settings.update(overrides)
            data = config.dataset.model_dump()
            data["slices"] = [*data["slices"], *(s for s in slices or [] if s not in data["slices"])]
            dataset_options = {
                "per_class": per_class,
                "limit_test": limit_test,
                "split": split,
                "test_fraction": test_share,
                "person_fields": person,
                "exclude_self_assigned": exclude_self_assigned,
            }
            if refresh_days is not None:
                data["refresh_days"] = refresh_days or None
            data.update({k: v for k, v in dataset_options.items() if v is not None})
            data["values"] = merge_value_maps(
                [config.dataset.value_map(), value_map], "the suite's [dataset.values] and --values"
            ).fields
            config.dataset = DatasetSpec.model_validate(data)
            min_bars, max_bars = {**loaded.min, **min_bars}, {**loaded.max, **max_bars}
        else:
            if train is None:
                raise _fail("give a suite file, or --train (and --map for CSV/JSONL)")
            spec = DatasetSpec(
                train=train,
                test=test,
                map=mapping or [],
                values=value_map.fields,
                slices=slices or [],
                per_class=per_class,
                limit_test=limit_test,
                label=label,
                oos_train_splits=["oos_train"] if oos_train else [],
                split=split or "stratified",
                test_fraction=test_share or 0.2,
                person_fields=person or [],
                exclude_self_assigned=bool(exclude_self_assigned),
                refresh_days=refresh_days or None,
            )
            config = RunConfig(dataset=spec, settings=overrides, **{k: v for k, v in options.items() if v is not None})
    except (SuiteError, ValidationError, ValueMapError) as exc:
        raise _fail(str(exc)) from exc
    previous = None
    if compare is not None:
        try:
            previous = json.loads(compare.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise _fail(f"{compare}: cannot read the report to compare with: {exc}") from exc

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=err, transient=False) as progress:
            hooks = RichHooks(progress)
            record = run_eval(config, hooks)
            hooks.stage("Scoring", None)
            report = build_report(record)
            hooks.stage("Done", 1)(1)
    except DatasetError as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
        # The lines `caseworker ingest tickets` prints for the same file, word for word.
        for line in exc.lines:
            err.print(f"  [yellow]{escape(line)}[/yellow]", highlight=False)
        raise typer.Exit(EXIT_USAGE) from exc
    except (ImportFileError, MappingError, ValidationError, ValueError) as exc:
        raise _fail(str(exc)) from exc

    report.bars = check_bars(report.model_dump(mode="json"), min_bars, max_bars)
    paths = write_reports(report, record, out_dir)
    _summary(report)
    for note in report.notes:
        err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    err.print(f"reports written: {', '.join(str(p) for p in paths.values())}", highlight=False)
    if previous is not None:
        _print_changes(compare_reports(previous, report.model_dump(mode="json")), compare)
    _print_bars(report.bars)
    if any(not b.passed for b in report.bars):
        raise typer.Exit(EXIT_BAR_MISSED)

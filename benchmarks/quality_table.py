"""The quality bar: every bundled eval suite through the real triage graph, against TF-IDF + LR (word 1-2 +
char_wb 2-5, `evals.baselines`) and the published figures, with wall times (run on demand, not in the test
suite). The Δ column is the field's macro-F1 minus the baseline's, with a paired bootstrap interval.

    .venv/bin/python benchmarks/quality_table.py                    # all suites in evals/suites/
    .venv/bin/python benchmarks/quality_table.py nlbse24_gate clinc150

Reports go to --out/<suite>/ (report.json/.md/.html). Embeddings are cached by text under --cache-dir,
so a second run measures the model and the graph, not the embedder; the wall time column says which.
Suites whose data is missing (../shared/data is absent on users' machines) are skipped, with a line
saying so. Exits 1 when a suite's own [min]/[max] bars are missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evals.baselines import PRIMARY_BASELINE  # noqa: E402
from evals.report import build_report, check_bars, lookup  # noqa: E402
from evals.report_files import write_reports  # noqa: E402
from evals.runner import RunConfig, run_eval  # noqa: E402
from evals.suites import Published, Suite, bundled_suites, load_suite  # noqa: E402


class PrintHooks:
    def stage(self, description: str, total: int | None) -> Any:
        print(f"  {description}" + (f" ({total})" if total else ""), flush=True)
        return lambda _n: None

    def message(self, text: str) -> None:
        return None


def _fmt(value: float | None, key: str) -> str:
    if value is None:
        return "–"
    # Accuracies and rates read as percentages in the papers; F1 scores as fractions.
    return (
        f"{value * 100:.2f}"
        if key.rsplit(".", 1)[-1] in ("accuracy", "recall", "precision") or key.startswith("oos.strict_accuracy")
        else f"{value:.4f}"
    )


def rows_for(suite: Suite, report: dict[str, Any], wall_s: float, command: str) -> list[list[str]]:
    rows = []
    for published in suite.published.values():
        rows.append(_row(suite, published, report, wall_s, command))
    return rows


def _row(suite: Suite, p: Published, report: dict[str, Any], wall_s: float, command: str) -> list[str]:
    parts = p.key.split(".")
    if len(parts) == 4 and parts[1] == "delta":  # FIELD.delta.BASELINE.METRIC: a margin over a baseline
        field, _, baseline, metric = parts
        ours = lookup(report, f"{field}.{metric}")
        theirs = lookup(report, f"baselines.{baseline}.{field}.{metric}")
        margin = lookup(report, p.key)
        shown_key = f"{field}.{metric}"
        holds = margin is not None and p.bar is not None and margin >= p.bar
        published = f"bar: TF-IDF+LR {p.bar:+.2f}" if p.bar is not None else "–"
    else:
        ours = lookup(report, p.key)
        shown_key = p.key
        if len(parts) == 2:
            theirs = lookup(report, f"baselines.{PRIMARY_BASELINE}.{parts[0]}.{parts[1]}")
        elif len(parts) == 4 and parts[1] == "slices":
            theirs = lookup(report, f"baselines.{PRIMARY_BASELINE}.{parts[0]}.slices.{parts[2]}")
        else:
            theirs = None
        holds = ours is not None and p.bar is not None and ours >= p.bar
        published = _fmt(p.value, p.key)
    verdict = "–" if p.bar is None else ("holds" if holds else "MISSED")
    delta = (report.get("fields", {}).get(parts[0], {}).get("baseline_delta") or {}).get("macro_f1")
    versus = f"{delta['delta']:+.4f} [{delta['low']:+.4f}, {delta['high']:+.4f}]" if delta else "–"
    bar = "–" if p.bar is None else (f"+{p.bar:.2f} vs TF-IDF" if "delta" in p.key else _fmt(p.bar, p.key))
    return [
        suite.name,
        shown_key,
        _fmt(ours, shown_key),
        _fmt(theirs, shown_key),
        versus,
        published,
        bar,
        verdict,
        f"{wall_s:.0f}s",
        command,
    ]


def _markdown(rows: list[list[str]]) -> str:
    header = ["dataset", "metric", "ours", "TF-IDF+LR", "Δ macro-F1 vs TF-IDF+LR [95 % CI]", "published", "bar", "",
              "wall", "command"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join([*row[:-1], f"`{row[-1]}`"]) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("suites", nargs="*", help="suite names or TOML paths (default: all bundled suites)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "caseworker_quality")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "caseworker_eval_cache")
    parser.add_argument("--no-cache", action="store_true", help="embed everything (wall times include embedding)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)

    paths = (
        bundled_suites()
        if not args.suites
        else [Path(s) if s.endswith(".toml") else REPO / "evals" / "suites" / f"{s}.toml" for s in args.suites]
    )
    table: list[list[str]] = []
    missed = False
    for path in paths:
        suite = load_suite(path)
        missing = suite.missing_data()
        if missing:
            print(f"skipped {suite.name}: {', '.join(map(str, missing))} not found")
            continue
        print(f"{suite.name}: {suite.description.splitlines()[0]}", flush=True)
        overrides: dict[str, Any] = {"embedding_cache": None if args.no_cache else args.cache_dir}
        if args.workers:
            overrides["workers"] = args.workers
        config: RunConfig = suite.run_config(**overrides)
        started = time.perf_counter()
        record = run_eval(config, PrintHooks())
        report = build_report(record)
        wall = time.perf_counter() - started
        report.bars = check_bars(report.model_dump(mode="json"), suite.min, suite.max)
        write_reports(report, record, args.out / suite.name)
        data = report.model_dump(mode="json")
        rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        command = f"caseworker eval {rel} --out reports/{suite.name}"
        table.extend(rows_for(suite, data, wall, command))
        for bar in report.bars:
            missed |= not bar.passed
            print(f"  bar {bar.key} {'>=' if bar.kind == 'min' else '<='} {bar.bar}: {bar.value} "
                  f"{'pass' if bar.passed else 'FAIL'}")  # fmt: skip
        print(f"  {wall:.0f}s wall ({', '.join(f'{k} {v:.0f}s' for k, v in report.timings_s.items())})", flush=True)
    if table:
        print()
        print(_markdown(table))
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())

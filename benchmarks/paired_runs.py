"""Two `caseworker eval` runs on the same test rows, paired: macro-F1 of each per field (and per slice value),
and run B minus run A with its 95 % paired bootstrap interval (the same statistic the reports use against the
baseline). Used for the README's "tuned − stock" and "e5 − MiniLM" columns.

    .venv/bin/python benchmarks/paired_runs.py RUN_A_DIR RUN_B_DIR [--slice language]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agent.stats import macro_f1, paired_bootstrap_delta


def _rows(run: Path) -> dict[str, dict]:
    lines = (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["id"]: row for row in map(json.loads, lines) if not row.get("out_of_scope")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--slice", default=None, help="Also score each value of this slice column.")
    args = parser.parse_args()
    a, b = _rows(args.a), _rows(args.b)
    ids = sorted(set(a) & set(b))
    print(f"{len(ids)} test rows in both runs ({len(a)} in A, {len(b)} in B)")
    fields = sorted({name for i in ids for name in a[i]["truth"]})
    for name in fields:
        rows = [i for i in ids if name in a[i]["truth"]]

        def value(run: dict[str, dict], i: str, field: str = name) -> str:
            return str((run[i]["predicted"].get(field) or {}).get("value", ""))

        truth = [a[i]["truth"][name] for i in rows]
        ours, theirs = [value(b, i) for i in rows], [value(a, i) for i in rows]
        d = paired_bootstrap_delta(truth, ours, theirs, resamples=1000, seed=0)
        print(f"{name}: A {macro_f1(truth, theirs):.3f}, B {macro_f1(truth, ours):.3f}, "
              f"B - A {d.delta:+.3f} [{d.low:+.3f}, {d.high:+.3f}] (n={len(rows)})")  # fmt: skip
        if args.slice:
            for group in sorted({str(a[i]["slices"].get(args.slice)) for i in rows}):
                part = [k for k, i in enumerate(rows) if str(a[i]["slices"].get(args.slice)) == group]
                t = [truth[k] for k in part]
                print(f"  {args.slice}={group}: A {macro_f1(t, [theirs[k] for k in part]):.3f}, "
                      f"B {macro_f1(t, [ours[k] for k in part]):.3f} (n={len(part)})")  # fmt: skip


if __name__ == "__main__":
    main()

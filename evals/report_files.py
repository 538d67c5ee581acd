"""The files of an eval run: report.json/.md/.html, predictions.jsonl (one row per test ticket), rejects.txt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.report import EvalReport
from evals.runner import RunRecord


def write_reports(report: EvalReport, record: RunRecord, out: Path) -> dict[str, Path]:
    from evals.report_html import render_html
    from evals.report_md import render_markdown

    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    paths["json"].write_text(report.model_dump_json(indent=2), encoding="utf-8")
    paths["md"].write_text(render_markdown(report), encoding="utf-8")
    paths["html"].write_text(render_html(report), encoding="utf-8")
    names = record.dataset.label_names

    def yours(name: str, label: str) -> dict[str, str]:
        theirs = names.get(name, {}).get(label)
        return {"yours": theirs[0]} if theirs else {}

    with (out / "predictions.jsonl").open("w", encoding="utf-8") as handle:
        for o in record.outcomes:
            row: dict[str, Any] = {
                "id": o.case.source_id,
                "truth": o.case.truth,
                # The user's own name for each true label, where it was renamed on the way in ("2" for P1).
                "truth_yours": {k: y["yours"] for k, v in o.case.truth.items() if (y := yours(k, v))},
                "predicted": {
                    k: {"value": v, "confidence": c, **yours(k, v)}
                    for k, v, c in ((k, *p) for k, p in o.predicted.items())
                },
                "out_of_scope": o.case.out_of_scope,
                "novel": o.novel,
                "max_similarity": o.max_similarity,
                "action": o.action,
                "reason": o.reason,
                "latency_ms": o.latency_ms,
                "slices": o.case.slices,
                "error": o.error,
                **({"ranked": o.ranked} if o.ranked else {}),
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    paths["predictions"] = out / "predictions.jsonl"
    if record.dataset.rejects:
        paths["rejects"] = out / "rejects.txt"
        paths["rejects"].write_text("".join(f"{r}\n" for r in record.dataset.rejects), encoding="utf-8")
    return paths

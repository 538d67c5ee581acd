"""report.md: the eval report as Markdown tables (for PR comments and terminals)."""

from __future__ import annotations

from evals.metrics import Confusion
from evals.ranking import RANKING_HEADER, ranking_rows
from evals.report import BaselineScores, EvalReport, FieldReport

#: Confusion matrices up to this many labels are printed whole; larger ones list the top confusions.
_FULL_MATRIX_LABELS = 12
_TOP_CONFUSIONS = 15


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}"


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _signed(value: float, *, percent: bool) -> str:
    return f"{value * 100:+.2f}" if percent else f"{value:+.4f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _field_summary(name: str, f: FieldReport, report: EvalReport) -> list[str]:
    baselines = report.baselines
    header = ["metric", "ours"]
    for b in baselines:
        if name in baselines[b]:
            header += [b, f"Δ vs {b}"]
    metric_rows: list[tuple[str, float, bool]] = [
        ("accuracy (%)", f.accuracy, True),
        ("macro-F1", f.macro_f1, False),
        ("weighted-F1", f.weighted_f1, False),
        ("ECE (lower is better)", f.ece, False),
    ]
    keys = ["accuracy", "macro_f1", "weighted_f1", "ece"]
    rows = []
    for (label, ours, percent), key in zip(metric_rows, keys, strict=True):
        row = [label, _pct(ours) if percent else _num(ours)]
        for b in baselines:
            if name in baselines[b]:
                theirs = getattr(baselines[b][name], key)
                row += [_pct(theirs) if percent else _num(theirs), _signed(ours - theirs, percent=percent)]
        rows.append(row)
    for column, s in f.slices.items():
        row = [f"mean macro-F1 over {column}", _num(s.mean_macro_f1)]
        for b in baselines:
            if name in baselines[b]:
                theirs = baselines[b][name].slices.get(column, 0.0)
                row += [_num(theirs), _signed(s.mean_macro_f1 - theirs, percent=False)]
        rows.append(row)
    lo, hi = f.accuracy_ci95
    lines = [f"## Field `{name}` ({f.n} test rows)", ""]
    lines += _table(header, rows)
    if "macro_f1" in f.baseline_delta:
        d = f.baseline_delta["macro_f1"]
        lines.append(
            f"Δ macro-F1 vs `{report.baseline}`: {_signed(d.delta, percent=False)} (95 % paired bootstrap "
            f"{_signed(d.low, percent=False)} to {_signed(d.high, percent=False)}; ours higher in "
            f"{d.p_better:.0%} of resamples, lower in {d.p_worse:.0%})."
        )
    lines.append(
        f"Accuracy 95 % bootstrap interval: {_pct(lo)}–{_pct(hi)} %. "
        f"Macro precision {_num(f.macro_precision)}, macro recall {_num(f.macro_recall)}; "
        f"weighted precision {_num(f.weighted_precision)}, weighted recall {_num(f.weighted_recall)}. "
        f"Invalid predictions: {f.invalid}."
    )
    t = f.target
    if t.threshold is None:
        lines.append(f"No confidence threshold reaches {_pct(t.target_accuracy)} % accuracy.")
    else:
        lines.append(
            f"Confidence ≥ {t.threshold:.4f} reaches {_pct(t.accuracy)} % accuracy "
            f"(target {_pct(t.target_accuracy)} %) on {_pct(t.coverage)} % of tickets."
        )
    lines.append("")
    return lines


def _confusion(c: Confusion, f: FieldReport) -> list[str]:
    if len(c.labels) <= _FULL_MATRIX_LABELS and len(c.columns) <= _FULL_MATRIX_LABELS + 1:
        rows = [[f.display(label), *map(str, counts)] for label, counts in zip(c.labels, c.matrix, strict=True)]
        header = ["truth", *(f.display(col) for col in c.columns)]
        return ["Confusion matrix (rows: truth, columns: prediction):", "", *_table(header, rows)]
    pairs = [
        (count, truth, predicted)
        for truth, counts in zip(c.labels, c.matrix, strict=True)
        for predicted, count in zip(c.columns, counts, strict=True)
        if count and predicted != truth
    ]
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    rows = [[f.display(truth), f.display(predicted), str(count)] for count, truth, predicted in pairs[:_TOP_CONFUSIONS]]
    invalid = sum(row[-1] for row in c.matrix)
    return [
        f"Most frequent confusions ({len(c.labels)} labels; {invalid} invalid predictions; full matrix in "
        "report.json and report.html):",
        "",
        *_table(["truth", "predicted", "count"], rows),
    ]


def _field_details(name: str, f: FieldReport, report_baselines: dict[str, dict[str, BaselineScores]]) -> list[str]:
    lines = [f"### `{name}`: coverage vs confidence threshold", ""]
    rows = [[f"{p.threshold:.2f}", _pct(p.coverage), _pct(p.accuracy)] for p in f.coverage[::2]]
    lines += _table(["threshold", "coverage %", "accuracy %"], rows)
    lines += [f"### `{name}`: calibration (ECE {_num(f.ece)})", ""]
    rows = [
        [f"{b.lower:.1f}–{b.upper:.1f}", str(b.n), _num(b.confidence, 3), _num(b.accuracy, 3)]
        for b in f.reliability
        if b.n
    ]
    lines += _table(["confidence bin", "n", "mean confidence", "accuracy"], rows)
    lines += [f"### `{name}`: per class", ""]
    rows = [
        [f.display(r.label), str(r.support), str(r.predicted), _num(r.precision, 3), _num(r.recall, 3), _num(r.f1, 3)]
        for r in sorted(f.per_class, key=lambda r: (r.f1, r.label))
    ]
    lines += _table(["label", "support", "predicted", "precision", "recall", "F1"], rows)
    lines += _confusion(f.confusion, f)
    peers = [b for b in report_baselines if name in report_baselines[b]]
    for column, s in f.slices.items():
        lines += [f"### `{name}` by `{column}`", ""]
        rows = [
            [value or "(empty)", str(v.n), _pct(v.accuracy), _num(v.macro_f1)]
            + [_num(report_baselines[b][name].slice_values.get(column, {}).get(value, 0.0)) for b in peers]
            for value, v in s.values.items()
        ]
        lines += _table([column, "n", "accuracy %", "macro-F1", *(f"{b} macro-F1" for b in peers)], rows)
    return lines


def render_markdown(report: EvalReport) -> str:
    d = report.dataset
    lines = [
        f"# Eval report: {report.name}",
        "",
        f"Model `{report.model_version}`, {d.n_train} training / {d.n_test} test tickets, fields "
        f"{', '.join(f'`{f}`' for f in d.fields)}; created {report.created_at}. Mode `{report.settings.get('mode')}`, "
        f"novelty similarity {report.settings.get('novelty_similarity')}.",
        "",
    ]
    if report.bars:
        rows = [
            [b.key, f"{'≥' if b.kind == 'min' else '≤'} {b.bar}", _num(b.value), "pass" if b.passed else "**FAIL**"]
            for b in report.bars
        ]
        lines += ["## Bars", "", *_table(["key", "bar", "value", "result"], rows)]
    for name, f in report.fields.items():
        lines += _field_summary(name, f, report)
    for name, r in report.ranking.items():
        lines += [f"## Person field `{name}` ({r.n} test rows; {r.unseen} resolvers never seen in training)", ""]
        lines += _table(RANKING_HEADER, ranking_rows(r))
    if report.oos is not None:
        o = report.oos
        lines += [
            "## Out-of-scope detection",
            "",
            f"{o.n_out_of_scope} out-of-scope and {o.n_in_scope} in-scope test rows. A row is flagged when the "
            "graph marks it novel or predicts the out-of-scope label.",
            "",
            *_table(
                ["flag", "recall %", "precision %", "in-scope flagged %"],
                [
                    ["combined", _pct(o.recall), _pct(o.precision), _pct(o.false_positive_rate)],
                    [
                        "novelty flag",
                        _pct(o.by_novelty_flag.recall),
                        _pct(o.by_novelty_flag.precision),
                        _pct(o.by_novelty_flag.false_positive_rate),
                    ],
                    *(
                        [
                            [
                                "predicted label",
                                _pct(o.by_label.recall),
                                _pct(o.by_label.precision),
                                _pct(o.by_label.false_positive_rate),
                            ]
                        ]
                        if o.by_label
                        else []
                    ),
                ],
            ),
            "Strict in-scope accuracy (correct and not flagged): "
            + ", ".join(f"`{k}` {_pct(v)} %" for k, v in o.strict_accuracy.items()),
            "",
            "If `novelty_similarity` were set to each threshold:",
            "",
            *_table(
                ["novelty_similarity", "recall %", "precision %", "in-scope flagged %"],
                [
                    [f"{p.threshold:.2f}", _pct(p.recall), _pct(p.precision), _pct(p.in_scope_flagged)]
                    for p in o.similarity_curve
                ],
            ),
        ]
    mix = report.decisions
    lines += ["## Decisions", ""]
    lines += _table(["action", "tickets", "share %"], [[a, str(c), _pct(mix.share[a])] for a, c in mix.counts.items()])
    lines += _table(["reason", "tickets"], [[r, str(c)] for r, c in mix.reasons.items()])
    if report.escalation is not None:
        e = report.escalation
        lines += [
            f"Escalation against the labels: precision {_pct(e.precision)} %, recall {_pct(e.recall)} % "
            f"({e.n_positive} should escalate, {e.n_flagged} escalated).",
            "",
        ]
    lat, cost = report.latency_ms, report.cost
    lines += [
        "## Latency, tokens, cost",
        "",
        f"Per ticket in the graph: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, max {lat['max']:.1f} ms. "
        f"Ticket length {cost.ticket_tokens_per_ticket:.0f} tokens on average; LLM tokens per ticket: "
        f"{cost.tokens_in_per_ticket:.1f} in / {cost.tokens_out_per_ticket:.1f} out; cost "
        f"${cost.cost_usd_per_ticket:.6f} per ticket, ${cost.cost_usd_total:.4f} in all. Errors: {report.errors}.",
        "",
        "Wall time (s): " + ", ".join(f"{k} {v:.1f}" for k, v in report.timings_s.items()),
        "",
    ]
    for name, f in report.fields.items():
        lines += _field_details(name, f, report.baselines)
    if report.dataset.values:
        mapped = "; ".join(
            f"`{k}`: " + ", ".join(f"{r} → {n}" for r, n in v.items()) for k, v in report.dataset.values.items()
        )
        lines += ["## Your label values", "", f"Mapped on the way in (`--values`): {mapped}.", ""]
    cfg = report.baseline_config
    lines += (
        []
        if not cfg
        else [
            "## Baseline",
            "",
            f"`{report.baseline}`: TF-IDF word {cfg['word_ngrams'][0]}–{cfg['word_ngrams'][1]}-grams + "
            f"{cfg['char_analyzer']} {cfg['char_ngrams'][0]}–{cfg['char_ngrams'][1]}-grams (sublinear tf), logistic "
            f"regression C={cfg['C']:g}, class_weight={cfg['class_weight']}; trained on the same training set.",
            "",
        ]
    )
    if report.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in report.notes), ""]
    return "\n".join(lines).rstrip() + "\n"

"""report.html: one self-contained page (inline CSS and SVG, no scripts, no CDN) that opens offline.

Plots per field: the confusion heat-map (rows normalised by true-label count, the "invalid" column in
red), the reliability diagram and the coverage-accuracy curve; plus the out-of-scope threshold curve.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from evals.metrics import INVALID, Confusion, CoveragePoint, ReliabilityBin, TargetThreshold
from evals.report import EvalReport, FieldReport, SimilarityPoint

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1180px;
color:#1d2330;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #dde2ea;
padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:8px 0 14px}td,th{border:1px solid #dde2ea;padding:3px 9px;text-align:right}
th{background:#f3f5f9}td:first-child,th:first-child{text-align:left}
.muted{color:#5b6475}.pass{color:#137333;font-weight:600}.fail{color:#b3261e;font-weight:600}
.pos{color:#137333}.neg{color:#b3261e}.plots{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
figure{margin:0}figcaption{font-size:12px;color:#5b6475;max-width:420px}
svg text{font-family:system-ui,sans-serif}details{margin:8px 0}summary{cursor:pointer;color:#2457c5}
"""


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}"


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _scores3(*values: float) -> list[str]:
    return [_num(v, 3) for v in values]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _delta(value: float, *, lower_better: bool = False, percent: bool = False) -> str:
    good = value < 0 if lower_better else value > 0
    cls = "pos" if good else "neg" if value else "muted"
    text = f"{value * 100:+.2f}" if percent else f"{value:+.4f}"
    return f'<span class="{cls}">{text}</span>'


# --- plots ---------------------------------------------------------------------------------------
def _axes(
    x0: float, y0: float, w: float, h: float, xlabel: str, ylabel: str, x_range: tuple[float, float] = (0.0, 1.0)
) -> list[str]:
    """A unit-square frame with six ticks per axis; x tick labels span `x_range` (the data's own scale)."""
    parts = [f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="#fff" stroke="#9aa3b2"/>']
    for i in range(6):
        t = i / 5
        x, y = x0 + t * w, y0 + h - t * h
        parts.append(f'<line x1="{x}" y1="{y0}" x2="{x}" y2="{y0 + h}" stroke="#eef0f4"/>')
        parts.append(f'<line x1="{x0}" y1="{y}" x2="{x0 + w}" y2="{y}" stroke="#eef0f4"/>')
        x_tick = x_range[0] + t * (x_range[1] - x_range[0])
        parts.append(f'<text x="{x}" y="{y0 + h + 14}" font-size="10" text-anchor="middle">{x_tick:.2g}</text>')
        parts.append(f'<text x="{x0 - 5}" y="{y + 3}" font-size="10" text-anchor="end">{t:.1f}</text>')
    parts.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 30}" font-size="11" text-anchor="middle">{xlabel}</text>')
    parts.append(
        f'<text x="{x0 - 32}" y="{y0 + h / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 {x0 - 32} {y0 + h / 2})">{ylabel}</text>'
    )
    return parts


def reliability_svg(bins: Sequence[ReliabilityBin], ece: float) -> str:
    x0, y0, w, h = 48.0, 12.0, 300.0, 300.0
    parts = _axes(x0, y0, w, h, "confidence", "accuracy")
    parts.append(f'<line x1="{x0}" y1="{y0 + h}" x2="{x0 + w}" y2="{y0}" stroke="#9aa3b2" stroke-dasharray="4 3"/>')
    total = sum(b.n for b in bins) or 1
    for b in bins:
        if not b.n or b.accuracy is None or b.confidence is None:
            continue
        bx, bw = x0 + b.lower * w + 1, (b.upper - b.lower) * w - 2
        bh = b.accuracy * h
        opacity = 0.35 + 0.65 * min(1.0, b.n / total * 5)
        parts.append(
            f'<rect x="{bx:.1f}" y="{y0 + h - bh:.1f}" width="{bw:.1f}" height="{bh:.1f}" fill="#2457c5" '
            f'fill-opacity="{opacity:.2f}"><title>{b.lower:.1f}–{b.upper:.1f}: n={b.n}, '
            f"accuracy {b.accuracy:.3f}, mean confidence {b.confidence:.3f}</title></rect>"
        )
        cx, cy = x0 + b.confidence * w, y0 + h - b.confidence * h
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="#e8710a"/>')
    parts.append(f'<text x="{x0 + 8}" y="{y0 + 16}" font-size="11">ECE {ece:.4f}</text>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="370" height="360" role="img">{"".join(parts)}</svg>'


def _polyline(points: Sequence[tuple[float, float]], color: str, x0: float, y0: float, w: float, h: float) -> str:
    coords = " ".join(f"{x0 + x * w:.1f},{y0 + h - y * h:.1f}" for x, y in points)
    return f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>'


def coverage_svg(points: Sequence[CoveragePoint], target: TargetThreshold) -> str:
    x0, y0, w, h = 48.0, 12.0, 300.0, 300.0
    parts = _axes(x0, y0, w, h, "confidence threshold", "share")
    parts.append(_polyline([(p.threshold, p.coverage) for p in points], "#2457c5", x0, y0, w, h))
    acc = [(p.threshold, p.accuracy) for p in points if p.accuracy is not None]
    parts.append(_polyline(acc, "#137333", x0, y0, w, h))  # type: ignore[arg-type]
    if target.threshold is not None:
        x = x0 + target.threshold * w
        parts.append(
            f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + h}" stroke="#b3261e" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{min(x + 4, x0 + w - 120):.1f}" y="{y0 + h - 8}" font-size="10" fill="#b3261e">'
            f"{target.target_accuracy:.0%} accuracy at ≥{target.threshold:.3f}</text>"
        )
    parts.append(f'<text x="{x0 + 8}" y="{y0 + 16}" font-size="11" fill="#2457c5">coverage</text>')
    parts.append(f'<text x="{x0 + 8}" y="{y0 + 30}" font-size="11" fill="#137333">accuracy of covered</text>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="370" height="360" role="img">{"".join(parts)}</svg>'


def similarity_svg(points: Sequence[SimilarityPoint], current: float | None) -> str:
    x0, y0, w, h = 48.0, 12.0, 300.0, 300.0
    lo, hi = points[0].threshold, points[-1].threshold
    span = (hi - lo) or 1.0
    parts = _axes(x0, y0, w, h, "novelty_similarity", "rate", x_range=(lo, hi))

    def scaled(values: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [((t - lo) / span, v) for t, v in values]

    parts.append(_polyline(scaled([(p.threshold, p.recall) for p in points]), "#2457c5", x0, y0, w, h))
    parts.append(_polyline(scaled([(p.threshold, p.precision) for p in points]), "#137333", x0, y0, w, h))
    parts.append(_polyline(scaled([(p.threshold, p.in_scope_flagged) for p in points]), "#b3261e", x0, y0, w, h))
    if current is not None and lo <= current <= hi:
        x = x0 + (current - lo) / span * w
        parts.append(
            f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + h}" stroke="#5b6475" stroke-dasharray="3 3"/>'
        )
    for i, (label, color) in enumerate(
        (("out-of-scope recall", "#2457c5"), ("precision", "#137333"), ("in-scope flagged", "#b3261e"))
    ):
        parts.append(f'<text x="{x0 + 8}" y="{y0 + 16 + 14 * i}" font-size="11" fill="{color}">{label}</text>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="370" height="360" role="img">{"".join(parts)}</svg>'


def confusion_svg(c: Confusion, show: Callable[[str], str] = str) -> str:
    """Row-normalised heat-map; each cell's tooltip gives the count. Labels (as `show` writes them) when they fit."""
    n_rows, n_cols = len(c.labels), len(c.columns)
    cell = max(4.0, min(28.0, 900.0 / max(n_cols, 1)))
    show_labels = cell >= 9
    margin = 8 + (min(max((len(show(x)) for x in c.columns), default=4), 28) * 6.2 if show_labels else 0)
    width, height = margin + n_cols * cell + 8, margin + n_rows * cell + 8
    parts = []
    for r, (label, counts) in enumerate(zip(c.labels, c.matrix, strict=True)):
        total = sum(counts) or 1
        y = margin + r * cell
        if show_labels:
            parts.append(
                f'<text x="{margin - 4}" y="{y + cell * 0.7:.1f}" font-size="{min(11, cell * 0.8):.0f}" '
                f'text-anchor="end">{escape(show(label)[:28])}</text>'
            )
        for k, (predicted, count) in enumerate(zip(c.columns, counts, strict=True)):
            share = count / total
            if predicted == INVALID:
                fill = f"rgba(179,38,30,{0.08 + 0.92 * share:.3f})" if count else "#fbeeee"
            else:
                fill = f"rgba(36,87,197,{share:.3f})" if count else "#fafbfc"
            parts.append(
                f'<rect x="{margin + k * cell:.1f}" y="{y:.1f}" width="{cell - 0.5:.1f}" height="{cell - 0.5:.1f}" '
                f'fill="{fill}"><title>truth {escape(show(label))} → {escape(show(predicted))}: {count} ({share:.1%})'
                "</title></rect>"
            )
            if show_labels and cell >= 20 and count:
                color = "#fff" if share > 0.55 else "#1d2330"
                parts.append(
                    f'<text x="{margin + k * cell + cell / 2:.1f}" y="{y + cell * 0.65:.1f}" font-size="9" '
                    f'text-anchor="middle" fill="{color}">{count}</text>'
                )
    if show_labels:
        for k, predicted in enumerate(c.columns):
            x = margin + k * cell + cell * 0.65
            parts.append(
                f'<text x="{x:.1f}" y="{margin - 4}" font-size="{min(11, cell * 0.8):.0f}" '
                f'transform="rotate(-60 {x:.1f} {margin - 4})" '
                f'fill="{"#b3261e" if predicted == INVALID else "#1d2330"}">{escape(show(predicted)[:28])}</text>'
            )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" role="img">'
        f"{''.join(parts)}</svg>"
    )


# --- page ----------------------------------------------------------------------------------------
def _field_section(name: str, f: FieldReport, report: EvalReport) -> str:
    header = ["metric", "ours"]
    present = [b for b in report.baselines if name in report.baselines[b]]
    for b in present:
        header += [b, f"Δ vs {b}"]
    rows = []
    for label, key, percent in (
        ("accuracy %", "accuracy", True),
        ("macro-F1", "macro_f1", False),
        ("weighted-F1", "weighted_f1", False),
        ("ECE (lower is better)", "ece", False),
    ):
        ours = getattr(f, key)
        row = [label, _pct(ours) if percent else _num(ours)]
        for b in present:
            theirs = getattr(report.baselines[b][name], key)
            row += [
                _pct(theirs) if percent else _num(theirs),
                _delta(ours - theirs, lower_better=key == "ece", percent=percent),
            ]
        rows.append(row)
    for column, s in f.slices.items():
        row = [f"mean macro-F1 over {escape(column)}", _num(s.mean_macro_f1)]
        for b in present:
            theirs = report.baselines[b][name].slices.get(column, 0.0)
            row += [_num(theirs), _delta(s.mean_macro_f1 - theirs)]
        rows.append(row)
    lo, hi = f.accuracy_ci95
    t = f.target
    versus = ""
    if "macro_f1" in f.baseline_delta:
        d = f.baseline_delta["macro_f1"]
        versus = (
            f"<p>Δ macro-F1 vs <code>{escape(report.baseline)}</code>: <b>{_delta(d.delta)}</b> (95 % paired "
            f"bootstrap {d.low:+.4f} to {d.high:+.4f}; ours higher in {d.p_better:.0%} of resamples, "
            f"lower in {d.p_worse:.0%}).</p>"
        )
    target = (
        f"confidence ≥ {t.threshold:.4f} reaches {_pct(t.accuracy)} % accuracy on {_pct(t.coverage)} % of tickets"
        if t.threshold is not None
        else f"no confidence threshold reaches {_pct(t.target_accuracy)} % accuracy"
    )
    per_class = _table(
        ["label", "support", "predicted", "precision", "recall", "F1"],
        [
            [escape(f.display(r.label)), str(r.support), str(r.predicted), *_scores3(r.precision, r.recall, r.f1)]
            for r in sorted(f.per_class, key=lambda r: (r.f1, r.label))
        ],
    )
    peers = [b for b in report.baselines if name in report.baselines[b]]
    slices = "".join(
        f"<h3>By {escape(column)}</h3>"
        + _table(
            [column, "n", "accuracy %", "macro-F1", *(f"{b} macro-F1" for b in peers)],
            [
                [escape(v or "(empty)"), str(s.n), _pct(s.accuracy), _num(s.macro_f1)]
                + [_num(report.baselines[b][name].slice_values.get(column, {}).get(v, 0.0)) for b in peers]
                for v, s in sl.values.items()
            ],
        )
        for column, sl in f.slices.items()
    )
    return (
        f"<h2>Field <code>{escape(name)}</code> <span class='muted'>({f.n} test rows)</span></h2>"
        + _table(header, rows)
        + versus
        + f"<p>Accuracy 95 % bootstrap interval {_pct(lo)}–{_pct(hi)} %. Macro precision {_num(f.macro_precision)}, "
        f"macro recall {_num(f.macro_recall)}. Invalid predictions: {f.invalid}. At a "
        f"{_pct(t.target_accuracy)} % accuracy target: {target}.</p>"
        + '<div class="plots">'
        + f"<figure>{reliability_svg(f.reliability, f.ece)}<figcaption>Reliability diagram: bars are the "
        "accuracy per confidence bin (darker = more tickets), dots the mean confidence; the dashed diagonal "
        "is perfect calibration.</figcaption></figure>"
        + f"<figure>{coverage_svg(f.coverage, t)}<figcaption>Coverage–accuracy: the share of tickets at or "
        "above each confidence threshold, and the accuracy on that share.</figcaption></figure></div>"
        + f"<h3>Confusion matrix</h3><figure>{confusion_svg(f.confusion, f.display)}<figcaption>Rows: true label, "
        "columns: prediction, shaded by share of the row; the last column (red) counts invalid predictions. "
        "Hover a cell for its count.</figcaption></figure>"
        + f"<details><summary>Per-class precision, recall and F1 ({len(f.per_class)} labels)</summary>{per_class}"
        "</details>" + slices
    )


def render_html(report: EvalReport) -> str:
    d = report.dataset
    sections = [
        f"<h1>Eval report: {escape(report.name)}</h1>",
        f"<p class='muted'>Model <code>{escape(report.model_version)}</code>; {d.n_train} training / "
        f"{d.n_test} test tickets; mode {escape(str(report.settings.get('mode')))}; novelty similarity "
        f"{report.settings.get('novelty_similarity')}; created {escape(report.created_at)}.</p>",
    ]
    if report.bars:
        sections.append(
            "<h2>Bars</h2>"
            + _table(
                ["key", "bar", "value", "result"],
                [
                    [
                        escape(b.key),
                        f"{'≥' if b.kind == 'min' else '≤'} {b.bar}",
                        _num(b.value),
                        '<span class="pass">pass</span>' if b.passed else '<span class="fail">FAIL</span>',
                    ]
                    for b in report.bars
                ],
            )
        )
    sections += [_field_section(name, f, report) for name, f in report.fields.items()]
    if report.oos is not None:
        o = report.oos
        rows = [["combined", _pct(o.recall), _pct(o.precision), _pct(o.false_positive_rate)]]
        rows.append(
            [
                "novelty flag",
                *(
                    _pct(x)
                    for x in (
                        o.by_novelty_flag.recall,
                        o.by_novelty_flag.precision,
                        o.by_novelty_flag.false_positive_rate,
                    )
                ),
            ]
        )
        if o.by_label:
            rows.append(
                [
                    "predicted label",
                    *(_pct(x) for x in (o.by_label.recall, o.by_label.precision, o.by_label.false_positive_rate)),
                ]
            )
        current = report.settings.get("novelty_similarity")
        sections.append(
            "<h2>Out-of-scope detection</h2>"
            f"<p>{o.n_out_of_scope} out-of-scope and {o.n_in_scope} in-scope test rows. Strict in-scope accuracy "
            "(correct and not flagged): "
            + ", ".join(f"<code>{escape(k)}</code> {_pct(v)} %" for k, v in o.strict_accuracy.items())
            + "</p>"
            + _table(["flag", "recall %", "precision %", "in-scope flagged %"], rows)
            + f"<figure>{similarity_svg(o.similarity_curve, current if isinstance(current, float) else None)}"
            "<figcaption>What the novelty flag would do at other <code>novelty_similarity</code> settings "
            "(dashed: this run's).</figcaption></figure>"
        )
    mix = report.decisions
    sections.append(
        "<h2>Decisions</h2>"
        + _table(
            ["action", "tickets", "share %"], [[escape(a), str(c), _pct(mix.share[a])] for a, c in mix.counts.items()]
        )
        + _table(["reason", "tickets"], [[escape(r), str(c)] for r, c in mix.reasons.items()])
    )
    if report.escalation is not None:
        e = report.escalation
        sections.append(
            f"<p>Escalation against the labels: precision {_pct(e.precision)} %, recall {_pct(e.recall)} %.</p>"
        )
    lat, cost = report.latency_ms, report.cost
    sections.append(
        "<h2>Latency, tokens, cost</h2>"
        + _table(
            [
                "p50 ms",
                "p95 ms",
                "max ms",
                "ticket tokens",
                "tokens in / ticket",
                "tokens out / ticket",
                "cost / ticket (USD)",
                "errors",
            ],
            [
                [
                    f"{lat['p50']:.1f}",
                    f"{lat['p95']:.1f}",
                    f"{lat['max']:.1f}",
                    f"{cost.ticket_tokens_per_ticket:.0f}",
                    f"{cost.tokens_in_per_ticket:.1f}",
                    f"{cost.tokens_out_per_ticket:.1f}",
                    f"{cost.cost_usd_per_ticket:.6f}",
                    str(report.errors),
                ]
            ],
        )
        + "<p class='muted'>Wall time (s): "
        + ", ".join(f"{escape(k)} {v:.1f}" for k, v in report.timings_s.items())
        + "</p>"
    )
    if report.notes:
        sections.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in report.notes) + "</ul>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Eval report: {escape(report.name)}</title><style>{_CSS}</style></head><body>"
        + "".join(sections)
        + "</body></html>\n"
    )

"""The eval report: metrics from a run's records (written out by `evals.report_files`), `--min`/`--max`
bars and `--compare` against an older report.json.

report.json is the machine-readable contract: ``fields.<label>.{accuracy, macro_f1, weighted_f1, ece, ...}``,
``baselines.<name>.<label>.<metric>``, ``latency_ms.{p50, p95}``, ``n``. Bars and comparisons address
it by dotted path, so anything in it can gate a build.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from evals import metrics
from evals.baselines import PRIMARY_BASELINE, TFIDF_LR
from evals.metrics import DeltaInterval, DetectionScores, FieldScores
from evals.ranking import RankingReport, ranking_report
from evals.runner import Outcome, RunRecord, scored_rows
from knowledge.label_values import display

REPORT_SCHEMA_VERSION = "1"
#: Metrics where lower is better (for --compare and deltas).
LOWER_IS_BETTER = ("ece", "p50", "p95", "mean", "max", "false_positive_rate", "invalid", "cost_usd")
_DELTA_METRICS = ("accuracy", "macro_f1", "weighted_f1", "ece")
_SIMILARITY_GRID = tuple(round(0.3 + 0.05 * i, 2) for i in range(11))


class SliceValue(BaseModel):
    n: int
    accuracy: float
    macro_f1: float


class SliceScores(BaseModel):
    values: dict[str, SliceValue]
    mean_macro_f1: float  # unweighted mean over slice values (NLBSE'24 averages repositories this way)


class FieldReport(FieldScores):
    slices: dict[str, SliceScores] = Field(default_factory=dict)
    #: baseline -> metric -> ours minus theirs (for ece, negative is better); slice means as mean_macro_f1_by_COLUMN
    delta: dict[str, dict[str, float]] = Field(default_factory=dict)
    #: metric (macro_f1, accuracy) -> ours minus the primary baseline with a paired bootstrap interval;
    #: gate on `FIELD.baseline_delta.macro_f1.low` to demand a margin the test set can vouch for
    baseline_delta: dict[str, DeltaInterval] = Field(default_factory=dict)
    #: our label -> the user's own names for it (`--values`, or names like "high" normalised to P1)
    label_names: dict[str, list[str]] = Field(default_factory=dict)

    def display(self, label: str) -> str:
        """`P1 (yours: "2")`, or the label alone when the user used our name."""
        return display(label, self.label_names)


class BaselineScores(BaseModel):
    accuracy: float
    macro_f1: float
    weighted_f1: float
    ece: float
    slices: dict[str, float] = Field(default_factory=dict)  # column -> mean macro-F1 over its values
    #: column -> value -> macro-F1: a gap between slices (German vs English) is ours only where the peer lacks it
    slice_values: dict[str, dict[str, float]] = Field(default_factory=dict)


class SimilarityPoint(BaseModel):
    threshold: float
    recall: float
    precision: float
    in_scope_flagged: float


class OosReport(BaseModel):
    """Out-of-scope test rows against the flag: the graph's novelty flag, or the out-of-scope label predicted."""

    n_out_of_scope: int
    n_in_scope: int
    recall: float
    precision: float
    f1: float
    false_positive_rate: float
    by_novelty_flag: DetectionScores
    by_label: DetectionScores | None
    #: in-scope rows classified correctly *and* not flagged (Larson et al.'s in-scope accuracy)
    strict_accuracy: dict[str, float]
    #: what the novelty flag would do at other `novelty_similarity` settings (best similarity < threshold)
    similarity_curve: list[SimilarityPoint]


class DecisionMix(BaseModel):
    n: int
    counts: dict[str, int]
    share: dict[str, float]
    reasons: dict[str, int]


class CostReport(BaseModel):
    #: the ticket's own length (cl100k tokens): what an LLM mode would be sent at least
    ticket_tokens_per_ticket: float
    tokens_in_per_ticket: float
    tokens_out_per_ticket: float
    cost_usd_per_ticket: float
    cost_usd_total: float


class DatasetInfo(BaseModel):
    train: str
    test: str | None
    n_train: int
    n_test: int
    fields: list[str]
    rejects: int
    mapping: list[str]
    #: the user's label codes onto ours (`--values`), FIELD -> {RAW: NORM}
    values: dict[str, dict[str, str]] = Field(default_factory=dict)


class BarResult(BaseModel):
    key: str
    kind: Literal["min", "max"]
    bar: float
    value: float | None
    passed: bool


class EvalReport(BaseModel):
    schema_version: str = REPORT_SCHEMA_VERSION
    name: str
    created_at: str
    model_version: str
    n: int
    dataset: DatasetInfo
    settings: dict[str, Any]
    fields: dict[str, FieldReport]
    baselines: dict[str, dict[str, BaselineScores]]
    #: the baseline `baseline_delta` and the headline comparison use, and its exact recipe
    baseline: str = PRIMARY_BASELINE
    baseline_config: dict[str, Any] = Field(default_factory=dict)
    oos: OosReport | None
    decisions: DecisionMix
    escalation: DetectionScores | None
    latency_ms: dict[str, float]
    cost: CostReport
    errors: int
    timings_s: dict[str, float]
    notes: list[str]
    bars: list[BarResult] = Field(default_factory=list)
    #: person fields (routing): top-k and MRR of the suggestion against the ranking baselines
    ranking: dict[str, RankingReport] = Field(default_factory=dict)


def _slices(rows: Sequence[Outcome], truth: list[str], predicted: list[str], columns: Sequence[str]) -> dict:
    out: dict[str, SliceScores] = {}
    for column in columns:
        groups: dict[str, list[int]] = {}
        for i, outcome in enumerate(rows):
            groups.setdefault(outcome.case.slices.get(column, ""), []).append(i)
        values = {
            value: SliceValue(
                n=len(idx),
                accuracy=metrics.accuracy([truth[i] for i in idx], [predicted[i] for i in idx]),
                macro_f1=metrics.macro_f1([truth[i] for i in idx], [predicted[i] for i in idx]),
            )
            for value, idx in sorted(groups.items())
        }
        mean = sum(v.macro_f1 for v in values.values()) / len(values) if values else 0.0
        out[column] = SliceScores(values=values, mean_macro_f1=mean)
    return out


def _field(record: RunRecord, name: str) -> tuple[FieldReport, dict[str, BaselineScores]]:
    idx = scored_rows(record.outcomes, name)
    rows = [record.outcomes[i] for i in idx]
    truth = [o.case.truth[name] for o in rows]
    guesses = [o.predicted.get(name) for o in rows]
    known = record.dataset.known_labels(name)
    scores = metrics.score_field(
        truth,
        [g[0] if g else None for g in guesses],
        [g[1] if g else 0.0 for g in guesses],
        known=known,
        target_accuracy=record.config.target_accuracy,
        resamples=record.config.bootstrap,
        seed=record.config.seed,
    )
    normalised = metrics.normalise_predictions([g[0] if g else None for g in guesses], known)
    columns = record.config.dataset.slices
    report = FieldReport(
        **scores.model_dump(),
        slices=_slices(rows, truth, normalised, columns),
        label_names=record.dataset.label_names.get(name, {}),
    )
    baselines: dict[str, BaselineScores] = {}
    for baseline, per_field in record.baselines.items():
        if name not in per_field:
            continue
        b = per_field[name]
        b_scores = metrics.score_field(truth, b.values, b.confidence, known=known, resamples=0)
        b_pred = metrics.normalise_predictions(b.values, known)
        b_slices = _slices(rows, truth, b_pred, columns)
        baselines[baseline] = BaselineScores(
            accuracy=b_scores.accuracy,
            macro_f1=b_scores.macro_f1,
            weighted_f1=b_scores.weighted_f1,
            ece=b_scores.ece,
            slices={c: s.mean_macro_f1 for c, s in b_slices.items()},
            slice_values={c: {v: x.macro_f1 for v, x in s.values.items()} for c, s in b_slices.items()},
        )
        delta = {m: getattr(report, m) - getattr(baselines[baseline], m) for m in _DELTA_METRICS}
        for column, score in baselines[baseline].slices.items():
            delta[f"mean_macro_f1_by_{column}"] = report.slices[column].mean_macro_f1 - score
        report.delta[baseline] = delta
        if baseline == PRIMARY_BASELINE:
            report.baseline_delta = {
                m: metrics.paired_bootstrap_delta(
                    truth, normalised, b_pred, metric=m, resamples=record.config.bootstrap, seed=record.config.seed
                )
                for m in ("macro_f1", "accuracy")
            }
    return report, baselines


def _oos(record: RunRecord) -> OosReport | None:
    outcomes = record.outcomes
    truth = [o.case.out_of_scope for o in outcomes]
    if not any(truth):
        return None
    oos_label = record.config.dataset.oos_label
    by_label_flags = [oos_label is not None and any(v == oos_label for v, _ in o.predicted.values()) for o in outcomes]
    label_trained = oos_label is not None and any(oos_label in t.labels.values() for t in record.dataset.train)
    flagged = [o.novel or by_label for o, by_label in zip(outcomes, by_label_flags, strict=True)]
    combined = metrics.detection(truth, flagged)
    strict = {}
    for name in record.dataset.fields:
        idx = scored_rows(outcomes, name)
        if idx:
            strict[name] = sum(
                outcomes[i].predicted.get(name, ("", 0))[0] == outcomes[i].case.truth[name] and not flagged[i]
                for i in idx
            ) / len(idx)
    curve = []
    n_in = sum(not t for t in truth)
    for threshold in _SIMILARITY_GRID:
        flags = [o.max_similarity < threshold or b for o, b in zip(outcomes, by_label_flags, strict=True)]
        d = metrics.detection(truth, flags)
        curve.append(
            SimilarityPoint(
                threshold=threshold, recall=d.recall, precision=d.precision, in_scope_flagged=d.false_positive_rate
            )
        )
    return OosReport(
        n_out_of_scope=sum(truth),
        n_in_scope=n_in,
        recall=combined.recall,
        precision=combined.precision,
        f1=combined.f1,
        false_positive_rate=combined.false_positive_rate,
        by_novelty_flag=metrics.detection(truth, [o.novel for o in outcomes]),
        by_label=metrics.detection(truth, by_label_flags) if label_trained else None,
        strict_accuracy=strict,
        similarity_curve=curve,
    )


def build_report(record: RunRecord) -> EvalReport:
    fields: dict[str, FieldReport] = {}
    baselines: dict[str, dict[str, BaselineScores]] = {}
    for name in record.dataset.fields:
        if not scored_rows(record.outcomes, name):
            continue
        fields[name], per_baseline = _field(record, name)
        for baseline, scores in per_baseline.items():
            baselines.setdefault(baseline, {})[name] = scores
    outcomes = record.outcomes
    actions = Counter(o.action or "error" for o in outcomes)
    n = len(outcomes)
    escalation_rows = [o for o in outcomes if o.case.should_escalate is not None]
    spec = record.config.dataset
    return EvalReport(
        name=record.config.name,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        model_version=record.model_version,
        n=n,
        dataset=DatasetInfo(
            train=str(spec.train),
            test=str(spec.test) if spec.test else None,
            n_train=len(record.dataset.train),
            n_test=n,
            fields=record.dataset.fields,
            rejects=len(record.dataset.rejects),
            mapping=spec.map,
            values=spec.values,
        ),
        settings=record.settings,
        fields=fields,
        baselines=baselines,
        baseline_config=TFIDF_LR.model_dump(mode="json") if record.baselines else {},
        oos=_oos(record),
        decisions=DecisionMix(
            n=n,
            counts=dict(sorted(actions.items())),
            share={k: v / n for k, v in sorted(actions.items())} if n else {},
            reasons=dict(Counter(o.reason or "error" for o in outcomes).most_common()),
        ),
        escalation=metrics.detection(
            [bool(o.case.should_escalate) for o in escalation_rows], [o.action == "escalate" for o in escalation_rows]
        )
        if escalation_rows
        else None,
        latency_ms=metrics.percentiles([o.latency_ms for o in outcomes if not o.error]),
        cost=CostReport(
            ticket_tokens_per_ticket=sum(o.ticket_tokens for o in outcomes) / n if n else 0.0,
            tokens_in_per_ticket=sum(o.tokens_in for o in outcomes) / n if n else 0.0,
            tokens_out_per_ticket=sum(o.tokens_out for o in outcomes) / n if n else 0.0,
            cost_usd_per_ticket=sum(o.cost_usd for o in outcomes) / n if n else 0.0,
            cost_usd_total=sum(o.cost_usd for o in outcomes),
        ),
        errors=sum(1 for o in outcomes if o.error),
        timings_s=record.timings_s,
        notes=record.notes,
        ranking={name: _ranking(record, name) for name in record.dataset.person_fields},
    )


def _ranking(record: RunRecord, name: str) -> RankingReport:
    rows = [record.outcomes[i] for i in scored_rows(record.outcomes, name)]
    people = {t.labels[name] for t in record.dataset.train if name in t.labels}
    return ranking_report(
        [o.case.truth[name] for o in rows],
        [o.ranked.get(name, []) for o in rows],
        people,
        record.rankings.get(name, {}),
        resamples=record.config.bootstrap,
        seed=record.config.seed,
    )


# --- bars and comparisons ------------------------------------------------------------------------
def lookup(report: dict[str, Any], key: str) -> float | None:
    """A number in report.json by dotted path; `LABEL.metric` is short for `fields.LABEL.metric`."""
    for path in (f"fields.{key}", key):
        node: Any = report
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                node = None
                break
            node = node[part]
        if isinstance(node, int | float) and not isinstance(node, bool):
            return float(node)
    return None


def parse_bars(specs: Sequence[str]) -> dict[str, float]:
    bars: dict[str, float] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        try:
            bars[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"bar {spec!r} must look like LABEL.metric=NUMBER (e.g. queue.accuracy=0.9)") from None
        if not sep or not key.strip():
            raise ValueError(f"bar {spec!r} must look like LABEL.metric=NUMBER (e.g. queue.accuracy=0.9)")
    return bars


def check_bars(report: dict[str, Any], minimum: dict[str, float], maximum: dict[str, float]) -> list[BarResult]:
    """A key missing from the report fails its bar: a typo must not pass a CI gate silently."""
    results = []
    for kind, bars in (("min", minimum), ("max", maximum)):
        for key, bar in bars.items():
            value = lookup(report, key)
            passed = value is not None and (value >= bar if kind == "min" else value <= bar)
            results.append(BarResult(key=key, kind=kind, bar=bar, value=value, passed=passed))  # type: ignore[arg-type]
    return results


class Change(BaseModel):
    key: str
    old: float
    new: float
    delta: float
    better: bool | None  # None: unchanged


def _flatten(node: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        out[prefix.rstrip(".")] = float(node)
    return out


def compare(old: dict[str, Any], new: dict[str, Any], *, tolerance: float = 1e-9) -> list[Change]:
    """Headline numbers (per-field metrics, OOS, decisions, latency) that exist in both reports."""

    def headline(report: dict[str, Any]) -> dict[str, float]:
        keep: dict[str, float] = {}
        for name, scores in (report.get("fields") or {}).items():
            for metric in ("accuracy", "macro_f1", "weighted_f1", "ece", "invalid"):
                if metric in scores:
                    keep[f"{name}.{metric}"] = float(scores[metric])
            for column, s in (scores.get("slices") or {}).items():
                keep[f"{name}.slices.{column}.mean_macro_f1"] = float(s["mean_macro_f1"])
        for name, r in (report.get("ranking") or {}).items():
            keep.update({f"ranking.{name}.top.{k}": float(v) for k, v in r.get("top", {}).items()})
            keep[f"ranking.{name}.mrr"] = float(r.get("mrr", 0.0))
        for section in ("oos", "latency_ms", "cost"):
            keep.update({f"{section}.{k}": v for k, v in _flatten(report.get(section) or {}).items() if "." not in k})
        keep.update(
            {f"decisions.share.{k}": float(v) for k, v in (report.get("decisions") or {}).get("share", {}).items()}
        )
        return keep

    before, after = headline(old), headline(new)
    changes = []
    for key in sorted(before.keys() & after.keys()):
        delta = after[key] - before[key]
        lower = key.rsplit(".", 1)[-1] in LOWER_IS_BETTER or key.startswith("latency_ms")
        better = None if abs(delta) <= tolerance or key.startswith("decisions.") else (delta < 0) == lower
        changes.append(Change(key=key, old=before[key], new=after[key], delta=delta, better=better))
    return changes

"""Runs one eval: an isolated temporary store, history = the training set, the local model trained on
it, every test ticket triaged through the real graph (a few threads), baselines on the same split.

The runner only executes and records; `evals.report` turns the records into metrics and files.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.batch import BATCH_SIZE, prefetch_or_none
from agent.graph import triage
from agent.schemas import TriageResult
from agent.state import Prefetched
from config.components import Components
from config.settings import Settings
from evals.baselines import BASELINES, BaselinePredictions, majority, tfidf_lr
from evals.datasets import DatasetSpec, EvalDataset, TestCase, load_dataset
from evals.ranking import derived_roster, ranking_baselines
from evals.refresh import RefreshWindow, protocol_note, rebuild_routing, refreshed_baselines, schedule_for
from knowledge.embeddings import Embedder
from knowledge.roster import Roster
from knowledge.text import model_text, ticket_model_text

#: Settings an eval must not take from a suite: the run owns its data dir.
_RUN_OWNED_SETTINGS = {"data_dir"}


class RunConfig(BaseModel):
    """One eval run. Built from CLI options or a suite TOML (evals.suites)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "eval"
    dataset: DatasetSpec
    #: Overrides for caseworker Settings (thresholds such as novelty_similarity, k_tickets, mode).
    settings: dict[str, Any] = Field(default_factory=dict)
    workers: int = Field(default=3, ge=1, le=16)
    target_accuracy: float = Field(default=0.95, gt=0, le=1)
    baselines: bool = True
    kb: Path | None = None
    taxonomy: Path | None = None
    #: Directory of cached embeddings (keyed by text hash): re-runs after a model change skip embedding.
    embedding_cache: Path | None = None
    #: Keep the eval's data dir here instead of a temporary directory (for inspecting results).
    store_dir: Path | None = None
    bootstrap: int = Field(default=1000, ge=0)
    seed: int = 0
    #: Tune the encoder on the training split first (seconds of budget; needs caseworker[tune]) and run the
    #: whole eval on it; `tune_options` are further knowledge.encoder_tuning.TuneOptions fields.
    tune_encoder_s: float | None = Field(default=None, gt=0)
    tune_options: dict[str, Any] = Field(default_factory=dict)


class Hooks(Protocol):
    """What the runner reports while it works (the CLI shows Rich progress bars)."""

    def stage(self, description: str, total: int | None) -> Callable[[int], None]: ...

    def message(self, text: str) -> None: ...


class QuietHooks:
    def stage(self, description: str, total: int | None) -> Callable[[int], None]:
        return lambda _n: None

    def message(self, text: str) -> None:
        return None


@dataclass
class Outcome:
    """One triaged test ticket, reduced to what scoring needs."""

    case: TestCase
    predicted: dict[str, tuple[str, float]]  # field -> (value, confidence)
    action: str | None
    reason: str | None
    novel: bool
    max_similarity: float
    latency_ms: float
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    ticket_tokens: int = 0
    error: str | None = None
    #: person field -> the routing suggestion's ranked agent ids (empty without a routing block)
    ranked: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class RunRecord:
    config: RunConfig
    dataset: EvalDataset
    settings: dict[str, Any]
    outcomes: list[Outcome]
    #: baseline name -> field -> predictions for the scored rows of that field (in `outcomes` order)
    baselines: dict[str, dict[str, BaselinePredictions]]
    model_version: str
    timings_s: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: person field -> baseline -> ranked lists for the rows scoring that field (in `scored_rows` order)
    rankings: dict[str, dict[str, list[list[str]]]] = field(default_factory=dict)
    #: With `refresh_days`: the refresh points, the history each added and the test rows each scored.
    refresh: list[RefreshWindow] = field(default_factory=list)


class CachedEmbedder:
    """Wraps an embedder with a per-text vector cache on disk (one .npz per embedding model).

    Thread-safe: batches embed from the eval thread while graphs run on worker threads (LLM tool calls embed too).
    """

    def __init__(self, inner: Embedder, directory: Path) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.tenant = getattr(inner, "tenant", None)  # a tuned encoder's one tenant (KnowledgeStore.check_tenant)
        self.blend_share = getattr(inner, "blend_share", 0.0)  # a tuned encoder's hold-out (unseen_rows)
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{hashlib.sha256(self.model_id.encode()).hexdigest()[:12]}.npz"
        self._lock = threading.Lock()
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        if self.path.is_file():
            with np.load(self.path) as stored:
                self._vectors = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached(texts, passages=False)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._cached(texts, passages=True)

    def _cached(self, texts: Sequence[str], passages: bool) -> np.ndarray:
        # A passage is embedded differently from the same text as a query (e5's prefixes): its own key.
        keys = [self._key(f"passage\x1f{t}" if passages else t) for t in texts]
        with self._lock:
            missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._vectors}
        if missing:
            embed = self.inner.embed_passages if passages else self.inner.embed
            vectors = embed(list(missing.values()))
            with self._lock:
                self._vectors.update(zip(missing, vectors, strict=True))
                self._dirty = True
        with self._lock:
            if not keys:
                return np.zeros((0, 384), dtype=np.float32)
            return np.vstack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            keys = np.array(list(self._vectors), dtype="U24")
            vectors = np.vstack(list(self._vectors.values())).astype(np.float32)
            self._dirty = False
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        os.replace(tmp, self.path)


@contextmanager
def _data_dir(config: RunConfig) -> Iterator[Path]:
    if config.store_dir is not None:
        config.store_dir.mkdir(parents=True, exist_ok=True)
        if any(config.store_dir.iterdir()):
            raise ValueError(f"{config.store_dir} is not empty: an eval store must start empty")
        yield config.store_dir
        return
    with tempfile.TemporaryDirectory(prefix="caseworker-eval-") as tmp:
        yield Path(tmp)


def _outcome(case: TestCase, result: TriageResult, fields: Sequence[str], persons: Sequence[str] = ()) -> Outcome:
    predictions = result.classification.predictions()
    ranked = list(result.routing.ranked) if result.routing else []
    return Outcome(
        ranked={name: ranked for name in persons},
        case=case,
        predicted={f: (predictions[f].value, predictions[f].confidence) for f in fields if f in predictions},
        action=str(result.decision.action),
        reason=str(result.decision.reason),
        novel=result.evidence.novel,
        max_similarity=max(result.evidence.max_ticket_similarity, result.evidence.max_kb_similarity),
        latency_ms=result.meta.latency_ms,
        tokens_in=result.meta.tokens_in,
        tokens_out=result.meta.tokens_out,
        cost_usd=result.meta.cost_usd,
        ticket_tokens=result.meta.ticket_tokens,
    )


def _warm_up(workspace: Components, dataset: EvalDataset) -> None:
    if dataset.test:
        # The first triage loads the language-id model, tokenizer and compiles the graph (seconds); a
        # throw-away warm-up keeps that one-off cost out of the latency percentiles.
        warm = dataset.test[0].ticket
        triage(warm.model_copy(update={"id": "eval-warm-up"}), workspace.context())


def _triage_rows(
    workspace: Components, dataset: EvalDataset, rows: Sequence[int], workers: int, advance: Callable[[int], None]
) -> dict[int, Outcome]:
    """The rows in batches (agent/batch.py): each batch embedded, searched and scored at once, then every
    ticket's graph run on its own (a few threads). A ticket's latency is its graph run plus an equal share
    of its batch's embedding, search and scoring."""
    context = workspace.context()

    def one(index: int, pre: Prefetched | None, share_ms: float) -> Outcome:
        case = dataset.test[index]
        started = time.perf_counter()
        try:
            outcome = _outcome(case, triage(case.ticket, replace(context, prefetched=pre)), dataset.fields,
                               dataset.person_fields)  # fmt: skip
            outcome.latency_ms = round(outcome.latency_ms + share_ms, 2)
            return outcome
        except Exception as exc:  # one broken ticket is a scored failure, not a crashed eval
            latency = (time.perf_counter() - started) * 1000 + share_ms
            return Outcome(case, {}, None, None, False, 0.0, latency, error=f"{type(exc).__name__}: {exc}")

    out: dict[int, Outcome] = {}
    rows = list(rows)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval-triage") as pool:
        for start in range(0, len(rows), BATCH_SIZE):
            chunk = rows[start : start + BATCH_SIZE]
            began = time.perf_counter()
            inputs = prefetch_or_none([dataset.test[i].ticket for i in chunk], context)
            share_ms = (time.perf_counter() - began) * 1000 / len(chunk)
            for index, outcome in zip(chunk, pool.map(one, chunk, inputs, [share_ms] * len(chunk)), strict=True):
                out[index] = outcome
                advance(1)
    return out


def _triage_all(
    workspace: Components,
    dataset: EvalDataset,
    workers: int,
    advance: Callable[[int], None],
    windows: Sequence[RefreshWindow] = (),
) -> list[Outcome]:
    """Every test row through the graph; with refresh windows, each window's rows after its profiles are stored."""
    _warm_up(workspace, dataset)
    if not windows:
        done = _triage_rows(workspace, dataset, range(len(dataset.test)), workers, advance)
    else:
        done = {}
        for window in windows:
            rebuild_routing(workspace, window, dataset.train, dataset.person_fields)
            done.update(_triage_rows(workspace, dataset, window.rows, workers, advance))
    return [done[i] for i in range(len(dataset.test))]


def scored_rows(outcomes: Sequence[Outcome], name: str) -> list[int]:
    """Indices of outcomes that score field `name`: labelled for it and not out of scope."""
    return [i for i, o in enumerate(outcomes) if name in o.case.truth and not o.case.out_of_scope]


def _baselines(
    dataset: EvalDataset, outcomes: Sequence[Outcome], seed: int
) -> dict[str, dict[str, BaselinePredictions]]:
    out: dict[str, dict[str, BaselinePredictions]] = {name: {} for name in BASELINES}
    for name in dataset.fields:
        train = [t for t in dataset.train if name in t.labels]
        rows = scored_rows(outcomes, name)
        if not train or not rows:
            continue
        labels = [t.labels[name] for t in train]
        texts = [model_text(t.subject, t.body) for t in train]
        test_texts = [model_text(outcomes[i].case.ticket.subject, outcomes[i].case.ticket.body) for i in rows]
        out["majority"][name] = majority(labels, len(rows))
        out["tfidf_lr"][name] = tfidf_lr(texts, labels, test_texts, seed=seed)
    return out


def run_eval(config: RunConfig, hooks: Hooks | None = None) -> RunRecord:
    hooks = hooks or QuietHooks()
    timings: dict[str, float] = {}
    overrides = {k: v for k, v in config.settings.items() if k not in _RUN_OWNED_SETTINGS}
    # Settings ignores unknown names (environment hygiene); in an eval a misspelt threshold must fail.
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        allowed = ", ".join(sorted(set(Settings.model_fields) - _RUN_OWNED_SETTINGS))
        raise ValueError(f"unknown setting(s) {', '.join(unknown)} (known: {allowed})")
    started = time.perf_counter()
    dataset = load_dataset(config.dataset)
    timings["load"] = time.perf_counter() - started
    hooks.message(
        f"{len(dataset.train)} training / {len(dataset.test)} test tickets; fields: {', '.join(dataset.fields)}"
    )
    notes = list(dataset.notes)
    windows = schedule_for(dataset, config.dataset.refresh_days)
    if windows:
        notes.append(protocol_note(config.dataset.refresh_days or 0, windows, len(dataset.train)))
    if dataset.person_fields:
        # The routing step learns who resolved what from the same label the eval scores.
        overrides.setdefault("routing_person_label", dataset.person_fields[0])
    with _data_dir(config) as data_dir:
        # An eval measures the model on whatever the dataset labels: every labelled field is learned.
        settings = Settings(data_dir=data_dir, **{"min_labels_per_field": 1, **overrides})
        if config.tune_encoder_s is not None:
            phase = time.perf_counter()
            settings = _tuned_settings(settings, config, dataset, hooks, notes)
            timings["tune"] = time.perf_counter() - phase
        workspace = Components(settings)
        cache: CachedEmbedder | None = None
        if config.embedding_cache is not None:
            cache = CachedEmbedder(workspace.embedder, config.embedding_cache)
            # Components.embedder is a cached_property: setting it first makes the store and retriever use the cache.
            workspace.embedder = cache  # type: ignore[misc]
        try:
            phase = time.perf_counter()
            if config.taxonomy is not None:
                workspace.install_taxonomy(config.taxonomy)
            if config.kb is not None:
                from knowledge.kb_importer import read_kb

                kb = read_kb(config.kb)
                workspace.ingest.kb(kb.articles, progress=hooks.stage("Embedding KB", None))
            workspace.ingest.tickets(dataset.train, progress=hooks.stage("Ingesting training set", len(dataset.train)))
            timings["ingest"] = time.perf_counter() - phase

            phase = time.perf_counter()
            hooks.stage("Training the local model", None)

            def on_train(message: str) -> None:
                hooks.message(f"  {message}")

            # The eval's training split is the whole history: no holdout, and its model serves at once.
            trained = (
                workspace.train(settings.tenant, promote="always", holdout_share=0.0, progress=on_train)[0]
                if dataset.fields
                else None
            )
            if dataset.person_fields:
                notes.append(_prepare_routing(workspace, dataset))
            timings["train"] = time.perf_counter() - phase

            phase = time.perf_counter()
            if cache is not None:
                # With a cache, embed the test set up front (and keep it for the next run): the batches then
                # find it cached, so per-ticket latency excludes embedding.
                texts = [model_text(c.ticket.subject, c.ticket.body) for c in dataset.test]
                embed_progress = hooks.stage("Embedding test set", len(texts))
                for start in range(0, len(texts), 64):
                    cache.embed(texts[start : start + 64])
                    embed_progress(len(texts[start : start + 64]))
                notes.append("embeddings came from the cache: per-ticket latency excludes embedding the ticket")
                timings["embed_test"] = time.perf_counter() - phase
                phase = time.perf_counter()
            outcomes = _triage_all(
                workspace, dataset, config.workers, hooks.stage("Triaging test set", len(dataset.test)), windows
            )
            timings["triage"] = time.perf_counter() - phase
        finally:
            if cache is not None:
                cache.save()
        errors = [o for o in outcomes if o.error]
        if errors:
            notes.append(f"{len(errors)} test tickets failed in the graph (first: {errors[0].error})")

    baselines: dict[str, dict[str, BaselinePredictions]] = {}
    rankings: dict[str, dict[str, list[list[str]]]] = {}
    if config.baselines:
        phase = time.perf_counter()
        hooks.stage("Training baselines", None)
        baselines = _baselines(dataset, outcomes, config.seed)
        for name in dataset.person_fields:
            rows = scored_rows(outcomes, name)
            tests = [outcomes[i].case.ticket for i in rows]
            rankings[name] = (
                refreshed_baselines(dataset.train, windows, rows, tests, name)
                if windows
                else ranking_baselines(dataset.train, tests, name)
            )
        timings["baselines"] = time.perf_counter() - phase
    timings["total"] = time.perf_counter() - started
    return RunRecord(
        config=config,
        dataset=dataset,
        settings=settings.model_dump(mode="json", exclude={"openai_api_key", "data_dir"}),
        outcomes=outcomes,
        baselines=baselines,
        model_version=trained.version if trained else "rules-only",
        timings_s={k: round(v, 2) for k, v in timings.items()},
        notes=notes,
        rankings=rankings,
        refresh=windows,
    )


def _tuned_settings(
    settings: Settings, config: RunConfig, dataset: EvalDataset, hooks: Hooks, notes: list[str]
) -> Settings:
    """Tune MiniLM on the training split only, install it in the eval's data dir and switch to it."""
    from knowledge.embeddings_tuned import ENCODER_DIR, install
    from knowledge.encoder_tuning import TuneOptions, tune_encoder

    options = TuneOptions.model_validate({**config.tune_options, "time_budget_s": config.tune_encoder_s})
    texts = [ticket_model_text(t) for t in dataset.train]  # what training embeds: the hold-out is by this text
    labels = {name: [t.labels.get(name) for t in dataset.train] for name in dataset.fields}
    advance = hooks.stage("Tuning the encoder (seconds)", int(options.time_budget_s))
    spent = [0]

    def progress(seconds: float, _budget: float, _message: str) -> None:
        advance(max(0, int(seconds) - spent[0]))
        spent[0] = max(spent[0], int(seconds))

    directory = settings.data_dir / ENCODER_DIR
    result = tune_encoder(texts, labels, directory, options, progress)
    install(directory, result.path, result.sha256, settings.tenant, result.quantized, result.model_dump(mode="json"))
    notes.append(
        f"encoder tuned on the training split ({result.n_texts} texts, {result.objective}, {result.steps} steps, "
        f"{result.epochs} epochs, stopped by {result.stopped_by}, {result.total_seconds:.0f} s of which "
        f"{result.train_seconds - result.load_seconds:.0f} s training steps, "
        f"{'int8' if result.quantized else 'fp32'}, int8 cosine {result.int8_cosine})"
    )
    return settings.model_copy(update={"embedder": "tuned"})


def _prepare_routing(workspace: Components, dataset: EvalDataset) -> str:
    """Person fields are scored on the routing suggestion: it needs a roster and skill profiles."""
    roster = Roster(workspace.history)
    derived = not any(roster.agents(tenant) for tenant in {t.tenant for t in dataset.train})
    if derived:
        roster.upsert(derived_roster(dataset.train, dataset.person_fields))
    counts = workspace.build_routing_profiles()
    source = (
        "derived from the training set (everyone who resolved a ticket; no capacity or shifts)" if derived else "given"
    )
    return f"routing: skill profiles from {sum(counts.values())} resolutions; roster {source}"

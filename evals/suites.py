"""Eval suites: a TOML file naming the dataset, mapping, settings, bars and published reference figures.

name = "nlbse24_gate"
data_root = "../../../shared/data"        # relative to this file; env CASEWORKER_EVAL_DATA_ROOT wins
[dataset]                                 # evals.datasets.DatasetSpec; paths relative to data_root
train = "nlbse24_github_issues/issues_train.csv"
test = "nlbse24_github_issues/issues_test.csv"
map = ["text=title,body", "label=label"]
slices = ["repo"]
[settings]                                # caseworker Settings overrides (thresholds)
novelty_similarity = 0.35
[run]                                     # workers, target_accuracy, baselines, bootstrap, seed, kb, taxonomy
workers = 3
[min]                                     # report.json keys (LABEL.metric) that must reach a value
"label.slices.repo.mean_macro_f1" = 0.76
[published.label_mean_f1]                 # reference figures for the quality table
key = "label.slices.repo.mean_macro_f1"
value = 0.827
source = "SetFit, NLBSE'24 tool competition"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.datasets import DatasetSpec
from evals.runner import RunConfig

DATA_ROOT_ENV = "CASEWORKER_EVAL_DATA_ROOT"
SUITES_DIR = Path(__file__).resolve().parent / "suites"


class SuiteError(Exception):
    """A suite file that cannot be read or does not validate."""


class RunOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workers: int = Field(default=3, ge=1, le=16)
    target_accuracy: float = Field(default=0.95, gt=0, le=1)
    baselines: bool = True
    bootstrap: int = Field(default=1000, ge=0)
    seed: int = 0
    kb: str | None = None
    taxonomy: str | None = None


class Published(BaseModel):
    """A published figure to set beside ours (`key` addresses report.json like a bar)."""

    model_config = ConfigDict(extra="forbid")

    key: str
    value: float
    source: str
    #: The bar this project holds itself to for this metric (may differ from the published figure).
    bar: float | None = None


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    data_root: str = "."
    dataset: dict[str, Any]
    settings: dict[str, Any] = Field(default_factory=dict)
    run: RunOptions = Field(default_factory=RunOptions)
    min: dict[str, float] = Field(default_factory=dict)
    max: dict[str, float] = Field(default_factory=dict)
    published: dict[str, Published] = Field(default_factory=dict)
    path: Path | None = None  # set by load_suite, not read from the file

    def root(self) -> Path:
        override = os.environ.get(DATA_ROOT_ENV)
        raw = Path(os.path.expanduser(os.path.expandvars(override or self.data_root)))
        base = self.path.parent if self.path is not None and not override else Path.cwd()
        return raw if raw.is_absolute() else (base / raw).resolve()

    def _resolve(self, value: str | None) -> Path | None:
        if value is None:
            return None
        path = Path(os.path.expanduser(os.path.expandvars(value)))
        return path if path.is_absolute() else self.root() / path

    def dataset_spec(self) -> DatasetSpec:
        data = dict(self.dataset)
        for key in ("train", "test"):
            if data.get(key) is not None:
                data[key] = self._resolve(str(data[key]))
        return DatasetSpec.model_validate(data)

    def missing_data(self) -> list[Path]:
        """Dataset files that are not there (the shared data folder is absent on users' machines)."""
        spec = self.dataset_spec()
        return [p for p in (spec.train, spec.test) if p is not None and not p.is_file()]

    def run_config(self, **overrides: Any) -> RunConfig:
        options = self.run.model_dump()
        kb, taxonomy = options.pop("kb"), options.pop("taxonomy")
        config = {
            "name": self.name,
            "dataset": self.dataset_spec(),
            "settings": dict(self.settings),
            "kb": self._resolve(kb),
            "taxonomy": self._resolve(taxonomy),
            **options,
        }
        config.update({k: v for k, v in overrides.items() if v is not None})
        return RunConfig.model_validate(config)


def load_suite(path: Path) -> Suite:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read suite: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path}: invalid TOML: {exc}") from exc
    try:
        suite = Suite.model_validate({**data, "path": path.resolve()})
        suite.dataset_spec()  # validate the dataset table now, not halfway through a run
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'suite'}: {e['msg']}" for e in exc.errors())
        raise SuiteError(f"{path}: {problems}") from exc
    return suite


def bundled_suites() -> list[Path]:
    return sorted(SUITES_DIR.glob("*.toml"))

"""The CI quality gate: the NLBSE'24 suite through the real graph must hold its [min] bar.

Reads ../shared/data (skipped with a message when absent, as on users' machines). A few minutes on two
cores, most of it embedding 3,000 issue texts; embeddings are cached in the temp dir between runs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from evals.report import build_report, check_bars
from evals.runner import run_eval
from evals.suites import SUITES_DIR, bundled_suites, load_suite

GATE = SUITES_DIR / "nlbse24_gate.toml"


def test_bundled_suites_validate() -> None:
    names = {path.stem for path in bundled_suites()}
    assert {"banking77", "banking77_10shot", "clinc150", "nlbse24_gate"} <= names
    for path in bundled_suites():
        suite = load_suite(path)
        assert suite.name == path.stem
        suite.run_config()  # every dataset table and run option validates


@pytest.mark.slow
def test_nlbse24_quality_gate(tmp_path: Path) -> None:
    suite = load_suite(GATE)
    missing = suite.missing_data()
    if missing:
        pytest.skip(f"quality gate skipped: {', '.join(map(str, missing))} not found (../shared/data is absent)")
    assert suite.min, "the gate suite must define a [min] bar"
    config = suite.run_config(embedding_cache=Path(tempfile.gettempdir()) / "caseworker_eval_cache")
    report = build_report(run_eval(config))
    bars = check_bars(report.model_dump(mode="json"), suite.min, suite.max)
    failed = [f"{b.key} = {b.value} (bar {b.bar})" for b in bars if not b.passed]
    assert not failed, f"quality regression on NLBSE'24: {'; '.join(failed)}"
    assert report.errors == 0
    # The local model must stay ahead of the simple baseline it is compared with.
    assert report.fields["label"].delta["tfidf_lr"]["mean_macro_f1_by_repo"] > 0

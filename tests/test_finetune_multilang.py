"""The issue's acceptance run: `finetune build` on support_tickets_multilang passes `validate` with no errors.

Slow (embedding ~2,200 tickets on the CPU takes one to three minutes), and skipped when ../shared/data is
absent, as it is on a user's machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from caseworker.cli_finetune import finetune_app
from finetune.schemas import Manifest
from tests.conftest import SHARED_DATA

DATASET = SHARED_DATA / "support_tickets_multilang" / "dataset-tickets-multi-lang-4-20k.csv"
MAP = [
    "--map",
    "text=subject,body",
    "--map",
    "queue=queue",
    "--map",
    "priority=priority",
    "--map",
    "type=type",
    "--map",
    "reply=answer",
]

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not DATASET.is_file(), reason=f"{DATASET} is absent (the shared datasets are not here)")
def test_multilang_build_passes_validate_with_zero_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(
        finetune_app, ["build", "--from", str(DATASET), *MAP, "--out", str(out), "--data-dir", str(tmp_path / "data")]
    )
    assert result.exit_code == 0, result.output
    manifest = Manifest.model_validate_json((out / "manifest.json").read_text())
    # The file's last row is cut off mid-record: the importer rejects it and the build says so.
    assert manifest.source.import_rejects == 1 and manifest.tickets_in == 2181
    assert "malformed CSV" in (out / "rejects.txt").read_text()
    assert manifest.examples["classify"].val > 100 and manifest.examples["reply"].train > 1500
    assert set(manifest.class_distribution_after["val"]["queue"]) == set(manifest.class_distribution_before["queue"])
    checked = runner.invoke(finetune_app, ["validate", str(out / "train.jsonl"), str(out / "val.jsonl"), "--json"])
    assert checked.exit_code == 0, checked.output
    reports = json.loads(checked.stdout[: checked.stdout.rindex("]") + 1])
    assert [r["errors"] for r in reports] == [{}, {}]
